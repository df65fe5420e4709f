"""One place that turns what the database refuses into a clear 4xx, never a 500.

Serializers validate first, so these are the races and the rules only the
database knows: a row still in use (``on_delete=PROTECT``) is 409 naming what
uses it; a clash with a stored row or a value out of a column's range is 400.
"""

import logging
from collections import Counter

from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.utils.text import capfirst
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# PostgreSQL's SQLSTATE codes for the integrity and data errors a write can meet.
_INTEGRITY_MESSAGES = {
    "23505": "This clashes with a row already stored",
    "23503": "This refers to a row that does not exist, or a row that is still referred to",
    "23502": "A required value is missing",
    "23514": "A value breaks a rule of this table",
}
_DATA_MESSAGES = {
    "22003": "A number is out of range for its column",
    "22001": "A value is too long for its column",
    "22021": "A value contains a character the database does not accept",
}


def exception_handler(exc, context):
    """DRF's handler, plus the database's refusals; every error body is a JSON object."""
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response({"error": _in_use_message(exc, context)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        logger.warning("API write refused by the database: %s", exc)
        exc = ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [_integrity_message(exc)]})
    elif isinstance(exc, DataError):
        logger.warning("API value refused by the database: %s", exc)
        exc = ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [_data_message(exc)]})
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, list):
        response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
    return response


def _diagnostics(exc) -> tuple[str | None, str | None, str | None]:
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    return (
        getattr(cause, "sqlstate", None),
        getattr(diag, "message_primary", None),
        getattr(diag, "message_detail", None),
    )


def _integrity_message(exc: IntegrityError) -> str:
    sqlstate, _, detail = _diagnostics(exc)
    message = _INTEGRITY_MESSAGES.get(sqlstate, "This conflicts with the data already stored")
    # PostgreSQL's detail names the key, e.g. "Key (id)=(1) already exists."
    return f"{message}: {detail}" if detail else f"{message}."


def _data_message(exc: DataError) -> str:
    sqlstate, primary, _ = _diagnostics(exc)
    # The server's primary message only, never the SQL around it; without a SQLSTATE the
    # driver refused the value itself (a NUL in text) and its message is all there is.
    reason = primary if sqlstate else str(exc.__cause__ or exc)
    message = _DATA_MESSAGES.get(sqlstate) or f"A value cannot be stored ({reason})"
    return f"{message.rstrip('.')}."


def _in_use_message(exc, context) -> str:
    rows = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
    counts = Counter(type(row) for row in rows)
    users = [
        f"{count} {model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural}"
        for model, count in sorted(counts.items(), key=lambda item: item[0]._meta.label)
    ]
    view = context.get("view")
    queryset = getattr(view, "queryset", None)
    what = capfirst(queryset.model._meta.verbose_name) if queryset is not None else "This row"
    pk = (context.get("kwargs") or {}).get("pk")
    return (
        f"{what}{f' {pk}' if pk else ''} is still in use by {', '.join(users)}; "
        "change or delete those first, then delete it."
    )
