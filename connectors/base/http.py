"""Reading a request's raw body within a limit, for every receiver of outside bodies."""

from __future__ import annotations

from django.http import HttpRequest


def read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is over ``limit`` bytes (declared or sent)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body
