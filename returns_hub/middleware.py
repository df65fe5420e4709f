from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

# These authenticate by other means: webhooks by signature, the Khaos channel by
# Basic auth, the API by DRF (session or token, 401/403 rather than a redirect).
OTHER_AUTH_PREFIXES = ("/webhooks/", "/khaos/", "/api/v1/", "/api/schema/")


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Every page needs a login unless it authenticates in its own way."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(OTHER_AUTH_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
