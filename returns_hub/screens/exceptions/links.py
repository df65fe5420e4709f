"""Links from a case to its return. The fix links are ``fixes.fix_links``: one answer,
batched for a page, for every screen."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def return_url(return_id: int) -> str:
    """The return's own screen, else (until it exists) its admin page."""
    try:
        return reverse("return-detail", args=[return_id])
    except NoReverseMatch:
        return reverse("admin:returns_hub_return_change", args=[return_id])
