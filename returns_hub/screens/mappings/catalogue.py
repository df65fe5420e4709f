"""The five mapping tables, and what each screen needs to know about one: its model,
filters, table, form, import/export resource and the permissions of the role matrix
(``returns_hub.roles``: data edits all five, cx edits customers, finance views all,
warehouse views dispositions and Khaos reasons)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from returns_hub import resources
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    KhaosReturnReason,
    ReasonMapping,
    SkuMapping,
)
from returns_hub.screens.mappings import filtersets, forms, tables


@dataclass(frozen=True)
class Mapping:
    slug: str  # in the URL
    title: str
    about: str
    model: type
    filterset: type
    table: type
    form: type
    resource: type
    export_name: str  # the file name the demo and import_mappings use
    order_by: str  # an indexed column: the keyset pages' order
    related: tuple[str, ...] = ()  # loaded with the rows, so a page costs fixed queries

    def perm(self, action: str) -> str:
        return f"returns_hub.{action}_{self.model._meta.model_name}"

    def can(self, user, action: str) -> bool:
        return user.has_perm(self.perm(action))

    def can_import(self, user) -> bool:
        # An import adds rows and changes rows.
        return self.can(user, "add") and self.can(user, "change")

    def rows(self):
        return self.model.objects.select_related(*self.related)


MAPPINGS: dict[str, Mapping] = {
    m.slug: m
    for m in [
        Mapping(
            slug="skus",
            title="SKU mappings",
            about="A platform's SKU → the Khaos Stock Code, for SKUs that are not Stock Codes "
            "already. A missing row holds returns as unknown SKU.",
            model=SkuMapping,
            filterset=filtersets.SkuMappingSearch,
            table=tables.SkuMappingTable,
            form=forms.SkuMappingForm,
            resource=resources.SkuMappingResource,
            export_name="sku_mappings",
            order_by="stock_code",
        ),
        Mapping(
            slug="reasons",
            title="Reason mappings",
            about="A platform's return reason → a Khaos return reason. A missing row holds "
            "returns as unmapped reason.",
            model=ReasonMapping,
            filterset=filtersets.ReasonMappingSearch,
            table=tables.ReasonMappingTable,
            form=forms.ReasonMappingForm,
            resource=resources.ReasonMappingResource,
            export_name="reason_mappings",
            order_by="id",
            related=("khaos_return_reason",),
        ),
        Mapping(
            slug="dispositions",
            title="Disposition mappings",
            about="A platform's grade or non-return outcome → stock action, Khaos return "
            "reason and site. A missing row holds returns as unmapped disposition.",
            model=DispositionMapping,
            filterset=filtersets.DispositionMappingSearch,
            table=tables.DispositionMappingTable,
            form=forms.DispositionMappingForm,
            resource=resources.DispositionMappingResource,
            export_name="disposition_mappings",
            order_by="id",
            related=("khaos_return_reason",),
        ),
        Mapping(
            slug="customers",
            title="Customer mappings",
            about="A customer's email → their Khaos account (URN), with the invoice name "
            "and address used when a platform sends none. Reads Khaos's customer export too.",
            model=CustomerMapping,
            filterset=filtersets.CustomerMappingSearch,
            table=tables.CustomerMappingTable,
            form=forms.CustomerMappingForm,
            resource=resources.CustomerMappingResource,
            export_name="customers",
            order_by="email",
        ),
        Mapping(
            slug="khaos-reasons",
            title="Khaos return reasons",
            about="Khaos's return reasons and their processing type: return to stock or "
            "write off. The other tables map to these.",
            model=KhaosReturnReason,
            filterset=filtersets.KhaosReturnReasonSearch,
            table=tables.KhaosReturnReasonTable,
            form=forms.KhaosReturnReasonForm,
            resource=resources.KhaosReturnReasonResource,
            export_name="khaos_return_reasons",
            order_by="id",
        ),
    ]
}


def mapping(slug: str) -> Mapping:
    try:
        return MAPPINGS[slug]
    except KeyError:
        raise Http404("No such mapping table.") from None
