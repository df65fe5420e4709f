"""Who may use a mapping screen: the role matrix's permission for the table in the URL
and the action, the same one the API's model permissions check for that table."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied

from returns_hub.screens.mappings.catalogue import MAPPINGS, mapping


def needs(action: str):
    """``view``, ``add``, ``change``, ``delete`` or ``import`` (add and change) on the
    URL's table; 403 for anyone else (the login middleware has already sent anonymous
    visitors to log in). The view is called with the table's ``Mapping``."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, table: str, *args, **kwargs):
            found = mapping(table)
            actions = ("add", "change") if action == "import" else (action,)
            perms = [found.perm(each) for each in actions]

            @permission_required(perms, raise_exception=True)
            def checked(request):
                return view(request, found, *args, **kwargs)

            return checked(request)

        return wrapped

    return decorate


def visible_tables(user) -> list:
    return [found for found in MAPPINGS.values() if found.can(user, "view")]


def any_table(view):
    """The index: anyone who may view at least one table."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not visible_tables(request.user):
            raise PermissionDenied("You may not see any mapping table.")
        return view(request, *args, **kwargs)

    return wrapped
