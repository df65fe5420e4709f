"""Money never drifts by a penny across splitting, summing and grouping."""

import re
from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returns_hub.documents import dumps, loads
from returns_hub.money import Money, split, to_pennies, total
from returns_hub.services.khaos_documents import ReturnLine, returned_items

pennies = st.integers(min_value=-10_000_000, max_value=10_000_000).map(lambda n: Decimal(n) / 100)
prices = st.integers(min_value=0, max_value=500_000).map(lambda n: Decimal(n) / 100)


@given(pennies, st.integers(min_value=1, max_value=500))
def test_split_adds_back_to_the_whole_and_differs_by_at_most_a_penny(amount, parts):
    shares = split(amount, parts)
    assert len(shares) == parts
    assert sum(shares) == amount
    assert max(shares) - min(shares) <= Decimal("0.01")


@given(st.lists(st.tuples(prices, prices, prices), min_size=1, max_size=40))
def test_expected_credit_is_the_same_per_unit_or_per_line(units):
    """Sum of (price - discount + tax) per unit equals the ReturnedItems' quantity x price."""
    credits = [to_pennies(price - discount + tax) for price, discount, tax in units]
    lines = [ReturnLine("SKU", 3, credit, "1001") for credit in credits]
    items = returned_items(lines)
    assert sum(i["Quantity"] * i["UnitPrice"]["Gross"] for i in items) == total(credits)
    assert sum(i["Quantity"] for i in items) == len(units)


@given(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=30), prices)
def test_lines_are_summed_per_stock_code_reason_price_and_order(codes, price):
    items = returned_items([ReturnLine(code, 3, price, "1001") for code in codes])
    assert {i["SKU"]: i["Quantity"] for i in items} == dict(Counter(codes))


@given(st.lists(prices, max_size=50))
def test_documents_keep_every_penny_through_json(amounts):
    document = {"Items": [{"UnitPrice": {"Gross": amount}} for amount in amounts]}
    text = dumps(document)
    assert loads(text) == document
    assert dumps(loads(text)) == text  # byte for byte the same when served again
    assert not re.search(r"\d[eE][+-]?\d", text)  # plain numbers, never 1E+3


def test_money_refuses_floats_and_mixed_currencies():
    with pytest.raises(TypeError):
        to_pennies(0.1)
    with pytest.raises(ValueError, match="cannot add EUR to GBP"):
        Money(Decimal("1.00"), "GBP") + Money(Decimal("1.00"), "EUR")
    assert str(Money(Decimal("1.005"), "GBP")) == "1.01 GBP"  # half up, as on paper
