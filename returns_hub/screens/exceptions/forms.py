"""The forms of the queue's actions: a note, and the bulk bar's choice of cases."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from returns_hub.screens.lists import PAGE_SIZE

NOTE_MAX = 500
MOST_SELECTED = PAGE_SIZE * 2  # a page's worth and then some; a bigger POST is a mistake


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=NOTE_MAX, strip=True)


class RequiredNoteForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX,
        strip=True,
        error_messages={"required": "Say why: where it is handled outside the hub."},
    )


class BulkAction:
    ASSIGN = "assign"
    RETRY = "retry"
    IGNORE = "ignore"
    choices = [(ASSIGN, "Assign to me"), (RETRY, "Retry"), (IGNORE, "Ignore with a note")]


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=BulkAction.choices)
    note = forms.CharField(required=False, max_length=NOTE_MAX, strip=True)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.case_ids = data.getlist("case") if data is not None else []

    def clean(self):
        cleaned = super().clean()
        ids = []
        for text in self.case_ids:
            if not text.isdigit() or len(text) > 18:
                raise ValidationError(f"{text!r} is not a case number.")
            ids.append(int(text))
        if not ids:
            raise ValidationError("Select at least one case.")
        if len(ids) > MOST_SELECTED:
            raise ValidationError(f"Select at most {MOST_SELECTED} cases at once.")
        if cleaned.get("action") == BulkAction.IGNORE and not cleaned.get("note"):
            self.add_error("note", "Ignoring needs a note: where is it handled?")
        cleaned["cases"] = list(dict.fromkeys(ids))
        return cleaned
