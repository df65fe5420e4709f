"""The queue as a django-tables2 table: one row per case, oldest first.

Rows come one keyset page at a time (the view pages them), so the table neither sorts nor
paginates. Each row's fix link is worked out for the whole page beforehand
(``fixes.fix_links``) and handed in, so rendering makes no query.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from returns_hub.choices import Team
from returns_hub.fixes import FixLink
from returns_hub.screens.exceptions.kinds import words
from returns_hub.screens.exceptions.links import return_url

TEAM_LABELS = dict(Team.choices)
BULK_FORM_ID = "bulk-actions"


def age(case) -> str:
    return timesince(case.created_at, timezone.now(), depth=1)


class ExceptionTable(tables.Table):
    select = tables.Column(
        verbose_name="Select", accessor="pk", empty_values=(), attrs={"td": {"class": "pick"}}
    )
    case = tables.Column(verbose_name="Case", accessor="pk", empty_values=())
    kind = tables.Column(verbose_name="What")
    return_ref = tables.Column(verbose_name="Return", empty_values=())
    owner = tables.Column()
    age = tables.Column(verbose_name="Age", accessor="created_at")
    assignee = tables.Column(verbose_name="Assigned to", empty_values=())
    cause = tables.Column(verbose_name="Cause and fix", accessor="message")

    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report queue"}
        row_attrs = {"data-kind": lambda record: record.kind, "data-case": lambda record: record.pk}
        empty_text = "Nothing waiting here: no case matches these filters."

    def __init__(self, data, *, fix_links: dict[int, FixLink | None], selectable: bool, **kw):
        self.fix_links = fix_links
        super().__init__(data, exclude=() if selectable else ("select",), **kw)

    def render_select(self, record):
        # The checkbox belongs to the bulk form above the table (the ``form`` attribute),
        # so the filter form and the bulk form never nest.
        return format_html(
            '<input type="checkbox" name="case" value="{}" form="{}" aria-label="Select case {}">',
            record.pk,
            BULK_FORM_ID,
            record.pk,
        )

    def render_case(self, record):
        url = reverse("exceptions:case", args=[record.pk])
        return format_html('<a href="{}">#{}</a>', url, record.pk)

    def render_kind(self, record):
        return format_html(
            '<span class="kind">{}</span><br><span class="muted">{}</span>',
            words(record.kind).what,
            record.get_kind_display(),
        )

    def render_return_ref(self, record):
        if record.return_ref_id is None:
            if record.connection_id is not None:
                return format_html('<span class="muted">{}</span>', record.connection.slug)
            return "—"
        return format_html(
            '<a href="{}">{}</a>', return_url(record.return_ref_id), record.return_ref
        )

    def render_owner(self, value):
        return TEAM_LABELS.get(value, value)

    def render_age(self, record):
        return format_html(
            '<time datetime="{}">{}</time>', record.created_at.isoformat(), age(record)
        )

    def render_assignee(self, record):
        return str(record.assignee) if record.assignee_id else "Nobody"

    def render_cause(self, record):
        link = self.fix_links.get(record.pk)
        if link is None:
            return record.message
        label, url = link
        return format_html('{}<br><a class="fix" href="{}">{} →</a>', record.message, url, label)
