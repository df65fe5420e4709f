"""Production: everything secret or host-specific must come from the environment."""

from config.env import ConfigError, Env

from .base import *  # noqa: F403

_env = Env()
DEBUG = False
SECRET_KEY = _env.str("SECRET_KEY")
if len(SECRET_KEY) < 50:
    raise ConfigError("SECRET_KEY must be set to at least 50 random characters in production")
if _env.str("DATABASE_URL") == "":
    raise ConfigError("DATABASE_URL must be set in production")
ALLOWED_HOSTS = _env.list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ConfigError("ALLOWED_HOSTS must name the hub's host names in production")

# Origins other than the hub's own host that may POST forms (a second host name, an SSO
# front end): https only. The hub's own host needs no entry (same origin over HTTPS).
CSRF_TRUSTED_ORIGINS = _env.origins("CSRF_TRUSTED_ORIGINS")

# TLS ends at the proxy in front, which must set X-Forwarded-Proto (and strip any the
# client sent); SECURE_SSL_REDIRECT=false only where that proxy redirects to HTTPS itself.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env.bool("SECURE_SSL_REDIRECT", True)
# /healthz is probed over plain HTTP by load balancers inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = _env.int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = _env.bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Cookies go with a top-level navigation from elsewhere (a link in an email) but not with
# another site's POST, image or frame.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
