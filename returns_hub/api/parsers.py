"""The API's JSON parser: a hostile body is a clear 400, never a 500."""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No field of the API holds an integer longer than this (Khaos ids are 32-bit, amounts are
# decimals); a longer one is refused before Python spends time converting it.
MAX_INTEGER_DIGITS = 30
MAX_NUMBER_CHARACTERS = 100


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise ValueError(
            f"an integer in the body has {digits} digits; at most {MAX_INTEGER_DIGITS} are accepted"
        )
    return int(text)


def _parse_decimal(text: str) -> Decimal:
    """A JSON number with a fraction, read from its text: money is never a binary float."""
    if len(text) > MAX_NUMBER_CHARACTERS:
        raise ValueError(f"the number {text[:40]}… is out of range")
    value = Decimal(text)
    if abs(value.adjusted()) > MAX_INTEGER_DIGITS:
        raise ValueError(f"the number {text} is out of range")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


class HubJSONParser(JSONParser):
    """DRF's JSON parser, with the failures Python's ``json`` does not report as
    ``ValueError`` (nesting too deep) and the ones it reports unclearly (huge
    numbers, NaN) turned into a 400 that says what is wrong."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from error
        try:
            return json.loads(
                text,
                parse_int=_parse_int,
                parse_float=_parse_decimal,
                parse_constant=_refuse_constant,
            )
        except RecursionError as error:
            raise ParseError("JSON parse error - the body is nested too deeply.") from error
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from error
