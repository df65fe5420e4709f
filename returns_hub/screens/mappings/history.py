"""A mapping row's audit trail from django-simple-history: who changed it, when, and
each field before → after."""

from __future__ import annotations

from dataclasses import dataclass, field

from returns_hub.screens.mappings.catalogue import Mapping

KINDS = {"+": "added", "~": "changed", "-": "deleted"}
MOST_VERSIONS = 500  # a row edited more often than this shows its latest changes


@dataclass
class FieldChange:
    name: str
    before: str
    after: str


@dataclass
class Version:
    when: object
    who: str
    kind: str
    changes: list[FieldChange] = field(default_factory=list)


def _columns(mapping: Mapping) -> list[tuple[str, str]]:
    """(label, attribute) of each column a person edits; a foreign key by its id."""
    model = mapping.model
    found = []
    for name in mapping.form.Meta.fields:
        model_field = model._meta.get_field(name)
        found.append((str(model_field.verbose_name), model_field.attname))
    return found


def _shown(value) -> str:
    return "—" if value in (None, "") else str(value)


def trail(mapping: Mapping, pk) -> list[Version]:
    """Newest first, in one query; each version against the one before it."""
    records = list(
        mapping.model.history.filter(**{mapping.model._meta.pk.attname: pk})
        .select_related("history_user")
        .order_by("-history_date", "-history_id")[: MOST_VERSIONS + 1]
    )
    columns = _columns(mapping)
    versions = []
    # Oldest first, so each version is read against the one before it.
    ordered = records[::-1]
    for position, record in enumerate(ordered):
        before = ordered[position - 1] if position else None
        if position == 0 and len(records) > MOST_VERSIONS:
            continue  # read only to compare the next one with
        who = record.history_user.get_username() if record.history_user else "the system"
        version = Version(record.history_date, who, KINDS.get(record.history_type, "?"))
        for label, attribute in columns:
            after_value = getattr(record, attribute, None)
            before_value = getattr(before, attribute, None) if before else None
            if record.history_type == "-":
                continue  # a deletion changes no field: the row is gone
            if before is None or before_value != after_value:
                version.changes.append(
                    FieldChange(label, _shown(before_value), _shown(after_value))
                )
        versions.append(version)
    return versions[::-1]
