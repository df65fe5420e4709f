"""The warehouse lists as django-tables2 tables. Rows come one keyset page at a time (the
views page them on the unit's id, newest first), so the tables neither sort nor paginate."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from returns_hub import platforms
from returns_hub.screens.warehouse.filtersets import ARRIVED_STATES, NOT_COMING_STATES


def platform_label(slug: str) -> str:
    try:
        return platforms.get(slug).label
    except LookupError:
        return slug


def card_link(unit) -> str:
    url = reverse("warehouse:card", args=[unit.return_ref_id])
    return format_html('<a href="{}">{}</a>', url, unit.return_ref.associated_ref)


def pallet_link(unit) -> str:
    if unit.shipment is None:
        return "—"
    url = reverse("warehouse:pallet", args=[unit.shipment.reference])
    return format_html('<a href="{}">{}</a>', url, unit.shipment.reference)


class WarehouseTable(tables.Table):
    # django-tables2 reads only a table's own Meta: each table subclasses this one.
    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report"}
        empty_text = "Nothing matches these filters."


class ExpectedUnitTable(WarehouseTable):
    associated_ref = tables.Column("Return", accessor="return_ref__associated_ref")
    order = tables.Column("Order", accessor="return_ref__order_ref")
    platform = tables.Column("Platform", accessor="return_ref__connection__platform")
    connection = tables.Column("Connection", accessor="return_ref__connection__slug")
    sku = tables.Column("SKU or barcode", accessor="platform_sku", empty_values=())
    title = tables.Column("Item", default="")
    state = tables.Column("State", accessor="get_state_display")
    pallet = tables.Column("Pallet", accessor="shipment__reference", default="—")
    announced = tables.DateTimeColumn(
        verbose_name="Announced", accessor="return_ref__created_at", format="j M H:i"
    )

    class Meta(WarehouseTable.Meta):
        empty_text = "No goods expected that match these filters."
        row_attrs = {"data-unit": lambda record: record.pk}

    def render_associated_ref(self, record):
        return card_link(record)

    def render_sku(self, record):
        # Happy Returns may name a unit by its barcode alone.
        return record.platform_sku or record.barcode or "—"

    def render_platform(self, value):
        return platform_label(value)

    def render_pallet(self, record):
        return pallet_link(record)


class PalletUnitTable(WarehouseTable):
    checked = tables.Column("Here", accessor="state", attrs={"td": {"class": "check"}})
    associated_ref = tables.Column("Return", accessor="return_ref__associated_ref")
    order = tables.Column("Order", accessor="return_ref__order_ref")
    sku = tables.Column("SKU", accessor="platform_sku", default="—")
    barcode = tables.Column("Barcode", default="—")
    title = tables.Column("Item", default="")
    state = tables.Column("State", accessor="get_state_display")
    received_at = tables.DateTimeColumn(verbose_name="Received", format="j M H:i", default="—")

    class Meta(WarehouseTable.Meta):
        empty_text = "No units on this pallet match."
        row_attrs = {
            "data-unit": lambda record: record.pk,
            "data-state": lambda record: record.state,
        }

    def render_checked(self, record):
        if record.state in ARRIVED_STATES:
            return mark_safe(  # a constant: nothing to escape
                '<span class="tick">✓<span class="visually-hidden"> received</span></span>'
            )
        if record.state in NOT_COMING_STATES:
            return mark_safe(  # a constant: nothing to escape
                '<span class="muted">&ndash;<span class="visually-hidden"> not coming</span></span>'
            )
        return mark_safe(  # a constant: nothing to escape
            '<span class="missing">✗<span class="visually-hidden"> missing</span></span>'
        )

    def render_associated_ref(self, record):
        return card_link(record)
