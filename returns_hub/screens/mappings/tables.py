"""The mapping lists as django-tables2 tables. Rows come one keyset page at a time (the
views page them), so the tables neither sort nor paginate. Each row links to its edit
form and its audit trail, shown only to those who may follow the link."""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from returns_hub import platforms


def platform_label(slug: str) -> str:
    try:
        return platforms.get(slug).label
    except LookupError:
        return slug


class MappingTable(tables.Table):
    """A mapping list; ``links`` is filled by the view with what the user may do."""

    row_links = tables.Column(verbose_name="", empty_values=(), orderable=False)

    def __init__(self, *args, table_slug: str, can_change: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.table_slug = table_slug
        self.can_change = can_change

    def render_row_links(self, record):
        links = []
        if self.can_change:
            links.append((reverse("mappings:edit", args=[self.table_slug, record.pk]), "Edit"))
        links.append((reverse("mappings:history", args=[self.table_slug, record.pk]), "History"))
        return format_html_join(
            " ", '<a href="{}" aria-label="{} {}">{}</a>', ((u, t, record, t) for u, t in links)
        )

    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report mappings"}
        empty_text = "No rows match."


class PlatformColumn(tables.Column):
    def render(self, value):
        return platform_label(value)

    def value(self, value):
        return value


class KhaosReasonColumn(tables.Column):
    """The reason's ID and name (loaded with the row: ``select_related``)."""

    def render(self, value):
        return format_html('{} <span class="muted">{}</span>', value.pk, value.name)

    def value(self, value):
        return value.pk


class SkuMappingTable(MappingTable):
    platform = PlatformColumn()
    platform_sku = tables.Column(verbose_name="Platform SKU")
    stock_code = tables.Column(verbose_name="Khaos Stock Code")

    class Meta(MappingTable.Meta):
        sequence = ["platform", "platform_sku", "stock_code", "row_links"]


class ReasonMappingTable(MappingTable):
    platform = PlatformColumn()
    reason = tables.Column(verbose_name="Platform reason")
    khaos_return_reason = KhaosReasonColumn(verbose_name="Khaos return reason")

    class Meta(MappingTable.Meta):
        sequence = ["platform", "reason", "khaos_return_reason", "row_links"]


class DispositionMappingTable(MappingTable):
    platform = PlatformColumn()
    disposition = tables.Column(verbose_name="Grade or outcome")
    stock_action = tables.Column(verbose_name="Stock action")
    khaos_return_reason = KhaosReasonColumn(verbose_name="Khaos return reason")
    site_id = tables.Column(verbose_name="Site", attrs={"td": {"class": "num"}})

    class Meta(MappingTable.Meta):
        sequence = [
            "platform",
            "disposition",
            "stock_action",
            "khaos_return_reason",
            "site_id",
            "row_links",
        ]


class CustomerMappingTable(MappingTable):
    email = tables.Column()
    urn = tables.Column(verbose_name="URN")
    name = tables.Column()
    address = tables.Column(empty_values=(), verbose_name="Invoice address")

    def render_address(self, record):
        parts = [record.line1, record.town, record.postcode, record.country]
        return ", ".join(part for part in parts if part) or "—"

    class Meta(MappingTable.Meta):
        sequence = ["email", "urn", "name", "address", "row_links"]


class KhaosReturnReasonTable(MappingTable):
    id = tables.Column(verbose_name="ID", attrs={"td": {"class": "num"}})
    name = tables.Column()
    processing_type = tables.Column(verbose_name="Processing type")

    class Meta(MappingTable.Meta):
        sequence = ["id", "name", "processing_type", "row_links"]
