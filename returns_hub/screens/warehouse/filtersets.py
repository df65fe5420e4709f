"""The warehouse's list filters: units still to come in, and a pallet's units.

They filter ``ReturnUnit`` rows with the API's own ``HubFilterSet`` (bounded integers,
strict values: a bad filter is a 400 naming the field) and ``ReturnFilterSet``'s reading of
an order number (a leading ``#`` dropped), so a screen and the API agree on what a filter
means.
"""

import django_filters as filters

from returns_hub.choices import UnitState
from returns_hub.filtersets import PLATFORMS, HubFilterSet, ReturnFilterSet
from returns_hub.models import Return, ReturnUnit

# What the warehouse still waits for: announced by the platform, or on their way.
EXPECTED_STATES = (UnitState.EXPECTED, UnitState.IN_TRANSIT)
# On a pallet: here (checked off), still to come, or never coming.
ARRIVED_STATES = (UnitState.RECEIVED, UnitState.GRADED)
NOT_COMING_STATES = (UnitState.CANCELLED, UnitState.NOT_RETURNED)


class ExpectedUnitFilterSet(HubFilterSet):
    """``/warehouse/``: units expected or in transit."""

    platform = filters.ChoiceFilter(
        field_name="return_ref__connection__platform", choices=PLATFORMS, label="Platform"
    )
    connection = filters.CharFilter(field_name="return_ref__connection__slug", label="Connection")
    pallet = filters.CharFilter(field_name="shipment__reference", label="Pallet")
    state = filters.ChoiceFilter(
        choices=[(state.value, state.label) for state in EXPECTED_STATES], label="State"
    )
    order = filters.CharFilter(method="filter_order", label="Order")

    class Meta:
        model = ReturnUnit
        fields = []

    def filter_order(self, queryset, name, value):
        # The API's reading of an order number; the returns it picks are an indexed subquery.
        returns = ReturnFilterSet().filter_order_ref(Return.objects.all(), name, value)
        return queryset.filter(return_ref__in=returns.values("pk"))


class PalletUnitFilterSet(HubFilterSet):
    """``/warehouse/pallets/<reference>/``: which of the pallet's units to show."""

    ARRIVED, MISSING, NOT_COMING = "arrived", "missing", "not_coming"
    checked = filters.ChoiceFilter(
        label="Show",
        method="filter_checked",
        empty_label="Every unit",
        choices=[
            (ARRIVED, "Received (checked off)"),
            (MISSING, "Missing (still to come)"),
            (NOT_COMING, "Not coming (cancelled or kept)"),
        ],
    )

    class Meta:
        model = ReturnUnit
        fields = []

    def filter_checked(self, queryset, name, value):
        states = {
            self.ARRIVED: ARRIVED_STATES,
            self.MISSING: EXPECTED_STATES,
            self.NOT_COMING: NOT_COMING_STATES,
        }[value]
        return queryset.filter(state__in=states)
