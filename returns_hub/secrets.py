"""Secrets are stored so the hub can use them, and never shown back in full."""


def mask(value: str) -> str:
    """The last four characters at most, so an operator can tell keys apart."""
    if not value:
        return ""
    if len(value) <= 8:
        return "•" * 8
    return "•" * 8 + value[-4:]


def redact(text: str, *secrets: str) -> str:
    """``text`` with each secret in it masked: a platform may echo a key in its error, and
    the error is kept (the connection's poll error, an exception's message) and logged."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, mask(secret))
    return text
