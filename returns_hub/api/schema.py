"""The error answers every operation can give, declared in one place.

A drf-spectacular postprocessing hook: each operation gets 401 and 403 (every
endpoint needs a login and a permission), 404 where a path names a row or a
cursor can be invalid, 400 where a body or a query can be wrong, 409 where a
row can be still in use, and 415 where a body is read. Each with the body the
API sends (``returns_hub.api.exceptions``). A query parameter given empty is
no filter at all, and is declared so.
"""

ERROR = "Error"
VALIDATION_ERROR = "ValidationError"
CONFLICT = "ActionError"  # the body of every 409: {"error": "…"}

_COMPONENTS = {
    ERROR: {
        "type": "object",
        "description": "An error that is not about one field.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    VALIDATION_ERROR: {
        "type": "object",
        "description": (
            "What is wrong, field by field (`non_field_errors` for the row as a whole), or "
            "`detail` for a body that could not be read at all."
        ),
        "properties": {
            "detail": {"type": "string"},
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
    },
    CONFLICT: {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
}

_DESCRIPTIONS = {
    "400": "The request is invalid: a field, a filter or the body.",
    "401": "No valid credentials (a session or `Authorization: Token …`).",
    "403": "Logged in, but without the permission this needs.",
    "404": "No such row, or an invalid cursor.",
    "409": "Not possible in this state, or the row is still in use.",
    "415": "The body's content type is not JSON, form or multipart.",
}
_BODIES = {"400": VALIDATION_ERROR, "409": CONFLICT}


def _codes_for(method: str, operation: dict) -> list[str]:
    parameters = operation.get("parameters", [])
    in_path = any(p.get("in") == "path" for p in parameters)
    in_query = any(p.get("in") == "query" for p in parameters)
    has_body = "requestBody" in operation
    paged = any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters)
    codes = ["401", "403"]
    if has_body or in_query:
        codes.append("400")
    if in_path or paged:
        codes.append("404")
    if method == "delete":
        codes.append("409")
    if has_body:
        codes.append("415")
    return codes


def add_error_responses(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: declare the standard errors on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in _COMPONENTS.items():
        schemas.setdefault(name, schema)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    # An empty filter is no filter (as an empty form field is).
                    parameter["allowEmptyValue"] = True
            responses = operation["responses"]
            for code in _codes_for(method, operation):
                if code in responses:
                    continue
                body = _BODIES.get(code, ERROR)
                responses[code] = {
                    "description": _DESCRIPTIONS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}
                    },
                }
    return result
