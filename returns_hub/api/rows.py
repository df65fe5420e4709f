"""Serializers for rows of the tables people edit through the API."""

import copy
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.settings import api_settings

from returns_hub.validators import no_control_characters

# PostgreSQL's integer column (PositiveIntegerField): Khaos ids and site ids.
MAX_INTEGER = 2**31 - 1


class TableRowSerializer(serializers.ModelSerializer):
    """A row of a table people edit through the API.

    The URL decides which row a PUT or PATCH changes: a body ``id`` naming
    another row is refused, never obeyed. Text is one line of printable
    characters: a control character makes a key that looks right and never matches.
    """

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if isinstance(field, serializers.CharField) and not field.read_only:
                field.validators.append(no_control_characters)
        return fields

    def to_internal_value(self, data):
        pk = self.instance.pk if self.instance is not None else None
        if pk is not None and isinstance(data, Mapping) and not _same_id(data.get("id", pk), pk):
            raise serializers.ValidationError(
                {
                    "id": [
                        f"The URL names row {pk}: the body's id must be {pk} or left out "
                        "(a row's id cannot be changed)."
                    ]
                }
            )
        return super().to_internal_value(data)


def _same_id(value, pk) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == pk
    return isinstance(value, str) and value.strip() == str(pk)


class ModelCleanMixin:
    """Runs the model's ``clean()``, so the API refuses what the admin and imports refuse."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        # A throwaway copy: the instance itself is only changed by a valid save.
        candidate = copy.copy(self.instance) if self.instance else self.Meta.model()
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
            ) from error
        return attrs
