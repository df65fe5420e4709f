"""The /finance/ lists as django-tables2 tables.

Rows come one keyset page at a time (the views page them), so the tables neither sort nor
paginate. Amounts are Decimals shown with two decimals, right-aligned, negatives marked.
"""

from __future__ import annotations

from decimal import Decimal

import django_tables2 as tables
from django.middleware.csrf import get_token
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from reconciliation.choices import DifferenceCause
from returns_hub import platforms
from returns_hub.choices import Team

CAUSE_LABELS = dict(DifferenceCause.choices)
TEAM_LABELS = dict(Team.choices)


def return_url(return_id: int) -> str:
    """The return's own screen once it exists, else its admin page."""
    try:
        return reverse("return-detail", args=[return_id])
    except NoReverseMatch:
        return reverse("admin:returns_hub_return_change", args=[return_id])


def platform_label(slug: str | None) -> str:
    if not slug:
        return "None (raised in Khaos)"
    try:
        return platforms.get(slug).label
    except LookupError:
        return slug


def money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _amount_class(record, bound_column) -> str:
    # Cell attributes are given the rendered text as ``value``: read the Decimal itself.
    value = bound_column.accessor.resolve(record, quiet=True)
    return "num neg" if isinstance(value, Decimal) and value < 0 else "num"


class MoneyColumn(tables.Column):
    """A Decimal amount: two decimals, right-aligned in tabular figures, negatives marked."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"th": {"class": "num"}, "td": {"class": _amount_class}})
        super().__init__(*args, **kwargs)

    def render(self, value):
        return money(value)

    def value(self, value):
        return money(value)


class NumberColumn(tables.Column):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("attrs", {"th": {"class": "num"}, "td": {"class": "num"}})
        super().__init__(*args, **kwargs)


class ReportTable(tables.Table):
    # django-tables2 reads only a table's own Meta: each table subclasses this one.
    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report"}
        empty_text = "Nothing matches these filters."


class DifferenceTable(ReportTable):
    """Rows of ``differences.rows``: one per return, posting, credit note, liability or
    ignored exception that does not tie off."""

    class Meta(ReportTable.Meta):
        pass

    on = tables.DateColumn(verbose_name="Dated", format="j M Y")
    cause = tables.Column()
    owner = tables.Column()
    platform = tables.Column(empty_values=())
    currency = tables.Column()
    amount = MoneyColumn()
    age_days = NumberColumn(verbose_name="Age (days)")
    subject = tables.Column(verbose_name="Return / credit note", empty_values=(), accessor="key")
    detail = tables.Column(attrs={"td": {"class": "detail"}})
    accepted = tables.Column(verbose_name="Accepted", empty_values=(), accessor="key")
    action = tables.Column(verbose_name="", empty_values=(), accessor="key", orderable=False)

    def __init__(self, data, *, show_actions: bool | None = None, **kwargs):
        exclude = list(kwargs.pop("exclude", ()))
        if show_actions is False:
            exclude.append("action")
        super().__init__(data, exclude=exclude, **kwargs)

    def _action_context(self) -> dict:
        """What every row's accept or reopen form shares, worked out once per page: a
        template per row cost more than the page's queries."""
        if not hasattr(self, "_actions"):
            request = self.request
            self._actions = {
                "csrf": get_token(request),
                "next": request.get_full_path(),
                "accept_url": reverse("finance:accept-difference"),
                "reopen_url": reverse("finance:reopen-difference"),
                "can_accept": request.user.has_perm("reconciliation.add_acceptance"),
                "can_reopen": request.user.has_perm("reconciliation.delete_acceptance"),
            }
        return self._actions

    def render_action(self, record):
        """The row's write-off controls: Accept with a note, or Reopen once accepted ."""
        shared = self._action_context()
        hidden = format_html(
            '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
            '<input type="hidden" name="key" value="{}">'
            '<input type="hidden" name="next" value="{}">',
            shared["csrf"],
            record.key,
            shared["next"],
        )
        if record.accepted:
            if not shared["can_reopen"]:
                return ""
            return format_html(
                '<form method="post" action="{}" class="inline accept-form">{}'
                '<button type="submit" class="secondary" aria-label="Reopen {}">Reopen</button>'
                "</form>",
                shared["reopen_url"],
                hidden,
                record.key,
            )
        if not shared["can_accept"]:
            return ""
        return format_html(
            '<form method="post" action="{}" class="inline accept-form">{}'
            '<input type="text" name="note" required maxlength="500" placeholder="Why (required)"'
            ' aria-label="Why {} is accepted">'
            '<button type="submit" aria-label="Accept {}">Accept</button></form>',
            shared["accept_url"],
            hidden,
            record.key,
            record.key,
        )

    def render_cause(self, value):
        return format_html('<span title="{}">{}</span>', value, CAUSE_LABELS.get(value, value))

    def render_owner(self, value):
        return TEAM_LABELS.get(value, value)

    def render_platform(self, value):
        return platform_label(value)

    def render_subject(self, record):
        text = record.credit_note or record.associated_ref or record.key
        if record.return_id is not None:
            return format_html('<a href="{}">{}</a>', return_url(record.return_id), text)
        return text

    def render_accepted(self, record):
        if not getattr(record, "accepted", False):
            return "—"
        by = getattr(record, "accepted_by", "") or "someone"
        note = getattr(record, "accepted_note", "") or ""
        return format_html("by {}{}", by, f": {note}" if note else "")


class RefundedReturnTable(ReportTable):
    """The returns behind "platform refunds"."""

    class Meta(ReportTable.Meta):
        pass

    refunded_at = tables.DateTimeColumn(verbose_name="Refunded", format="j M Y H:i")
    associated_ref = tables.Column(verbose_name="AssociatedRef")
    platform = tables.Column(accessor="connection__platform")
    order_ref = tables.Column(verbose_name="Order")
    state = tables.Column()
    money_state = tables.Column(verbose_name="Money")
    currency = tables.Column()
    refunded_amount = MoneyColumn(verbose_name="Refunded")
    store_credit_amount = MoneyColumn(verbose_name="Store credit")
    exchange_amount = MoneyColumn(verbose_name="Exchange")

    def render_associated_ref(self, value, record):
        return format_html('<a href="{}">{}</a>', return_url(record.pk), value)

    def render_platform(self, value):
        return platform_label(value)


class PostingTable(ReportTable):
    """The return postings behind "expected credit" and "posted"."""

    class Meta(ReportTable.Meta):
        pass

    created_at = tables.DateTimeColumn(verbose_name="Made", format="j M Y H:i")
    ready_at = tables.DateTimeColumn(verbose_name="Offered to Khaos", format="j M Y H:i")
    associated_ref = tables.Column(verbose_name="AssociatedRef")
    platform = tables.Column(accessor="return_ref__connection__platform")
    state = tables.Column()
    currency = tables.Column()
    expected_credit = MoneyColumn(verbose_name="Expected credit")
    credit_note = tables.Column(verbose_name="Credit note", empty_values=(), accessor="pk")

    def render_associated_ref(self, value, record):
        return format_html('<a href="{}">{}</a>', return_url(record.return_ref_id), value)

    def render_platform(self, value):
        return platform_label(value)

    def render_credit_note(self, record):
        # The reverse one-to-one is select_related: a posting with no note raises, not queries.
        note = getattr(record, "credit_note", None)
        return note.code if note is not None else "—"


class CreditNoteTable(ReportTable):
    """Khaos credit notes, matched or not."""

    class Meta(ReportTable.Meta):
        pass

    issued_on = tables.DateColumn(verbose_name="Issued", format="j M Y")
    code = tables.Column(verbose_name="Credit note")
    return_code = tables.Column(verbose_name="Khaos return")
    associated_ref = tables.Column(verbose_name="AssociatedRef", empty_values=())
    platform = tables.Column(accessor="posting__return_ref__connection__platform", default="")
    currency = tables.Column()
    net = MoneyColumn()
    tax = MoneyColumn()
    gross = MoneyColumn()
    expected_credit = MoneyColumn(verbose_name="Expected credit", default="")
    difference = MoneyColumn(default="")
    match = tables.Column(verbose_name="Matched", empty_values=(), accessor="match_method")

    def render_associated_ref(self, value, record):
        text = value or "(blank)"
        if record.posting_id is not None:
            return format_html(
                '<a href="{}">{}</a>', return_url(record.posting.return_ref_id), text
            )
        return text

    def render_platform(self, value):
        return platform_label(value) if value else "—"

    def render_match(self, record):
        if record.posting_id is None:
            return format_html(
                '<span class="muted">Unmatched: {}</span>', record.unmatched_reason or "—"
            )
        return f"{record.get_match_method_display()} ({record.matched_by or 'unknown'})"
