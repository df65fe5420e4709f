"""The CX lookup's results as a django-tables2 table. Rows come one keyset page at a time
(the view pages them), so the table neither sorts nor paginates."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from returns_hub import platforms


def platform_label(slug: str) -> str:
    try:
        return platforms.get(slug).label
    except LookupError:
        return slug


class ReturnLookupTable(tables.Table):
    associated_ref = tables.Column(verbose_name="Return")
    platform = tables.Column(accessor="connection__platform", verbose_name="Platform")
    order_ref = tables.Column(verbose_name="Order")
    customer_email = tables.Column(verbose_name="Email")
    customer_name = tables.Column(verbose_name="Name")
    state = tables.Column(verbose_name="Goods")
    money_state = tables.Column(verbose_name="Money")
    open_cases = tables.Column(verbose_name="Held by", attrs={"td": {"class": "num"}})
    created_at = tables.DateTimeColumn(verbose_name="Opened", format="j M Y")

    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report cx-results"}
        empty_text = "Nothing found. Check the order number, email or return id."

    def render_associated_ref(self, record, value):
        url = reverse("cx:return", args=[record.pk])
        return format_html(
            '<a href="{}">{}</a> <span class="muted">#{}</span>', url, value, record.pk
        )

    def render_platform(self, value):
        return platform_label(value)

    def render_state(self, record):
        return record.get_state_display()

    def render_money_state(self, record):
        return record.get_money_state_display()

    def render_open_cases(self, value):
        if not value:
            return "nothing"
        return f"{value} problem" if value == 1 else f"{value} problems"
