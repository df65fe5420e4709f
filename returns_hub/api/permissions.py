from rest_framework.permissions import BasePermission, DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reading guarded by ``view_<model>`` too."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


def has_perm(codename: str) -> type:
    """A permission class granting one Django permission, for a custom action."""

    class HasPerm(BasePermission):
        message = f"You need the permission {codename}."

        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(codename))

    HasPerm.__name__ = f"Has_{codename.replace('.', '_')}"
    return HasPerm


def owns_exception(user, case) -> bool:
    """A team acts on the exceptions it owns; superusers on all."""
    return user.is_superuser or user.groups.filter(name=case.owner).exists()
