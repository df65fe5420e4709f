class ParseError(ValueError):
    """A delivery parsed as JSON but does not make sense as the platform's payload.

    The message names the field and what was wrong, for the data team to read.
    """
