"""Validators shared by the API, the admin and the imports."""

import unicodedata

from django.core.exceptions import ValidationError


def no_control_characters(value: str) -> None:
    """Refuse control characters (NUL, tab, newline, escape, …) in a one-line value.

    Mapping keys are compared as exact strings; an invisible character makes a
    row that looks right and never matches.
    """
    if not isinstance(value, str):
        return
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) == "Cc":
            raise ValidationError(
                "Control characters are not allowed (U+%(code)04X at position %(position)d).",
                code="control_characters",
                params={"code": ord(char), "position": position},
            )


def time_zone_validator(value: str) -> None:
    """An IANA time zone name (Europe/London), as zoneinfo knows it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "%(value)s is not a time zone name such as Europe/London.",
            code="time_zone",
            params={"value": value},
        ) from None
