import re
from base64 import b64decode
from urllib import parse

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination

# What a cursor the hub made holds: an offset, a direction, and a primary key (a bigint).
_TOKENS = {
    "o": re.compile(r"[0-9]{1,10}"),
    "r": re.compile(r"[01]"),
    "p": re.compile(r"-?[0-9]{1,19}"),
}


class KeysetPagination(CursorPagination):
    """Keyset (cursor) pages on the primary key: as fast on page 10,000 as on page 1.

    A cursor the hub did not make (not base64, unknown or repeated tokens, a position
    that is not a key) is 404 "Invalid cursor"; a ``page_size`` that is not a whole
    number from 1 is 400.
    """

    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def decode_cursor(self, request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            querystring = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True, strict_parsing=True)
        except ValueError:  # binascii.Error and UnicodeError are ValueErrors
            raise NotFound(self.invalid_cursor_message) from None
        valid = all(
            name in _TOKENS and len(values) == 1 and _TOKENS[name].fullmatch(values[0])
            for name, values in tokens.items()
        )
        if not valid:
            raise NotFound(self.invalid_cursor_message)
        return Cursor(
            offset=min(int(tokens.get("o", ["0"])[0]), self.offset_cutoff),
            reverse=tokens.get("r", ["0"])[0] == "1",
            position=tokens.get("p", [None])[0],
        )

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent or empty, as an empty form field is
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) >= 1):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"A whole number from 1 is required (at most {self.max_page_size} "
                        "rows are returned per page)."
                    ]
                }
            )
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (
                    f"Rows per page, at most {self.max_page_size} (a larger number returns "
                    f"{self.max_page_size})."
                )
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor."
        return parameters
