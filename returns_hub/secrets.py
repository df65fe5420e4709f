"""Secrets are stored so the hub can use them, and never shown back in full."""


def mask(value: str) -> str:
    """The last four characters at most, so an operator can tell keys apart."""
    if not value:
        return ""
    if len(value) <= 8:
        return "•" * 8
    return "•" * 8 + value[-4:]
