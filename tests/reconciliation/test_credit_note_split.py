"""A credit note's difference split into tax, discount, shipping, fees and other."""

import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.importers import import_credit_notes
from reconciliation.models import CreditNote
from reconciliation.services import differences, matching
from reconciliation.services.differences import DifferenceCause as C
from reconciliation.services.differences import Period
from reconciliation.services.matching import PostedUnits, split_difference
from tests import factories
from tests.conftest import sql_log
from tests.reconciliation.conftest import served_posting

D = Decimal
HEADER = "Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n"
MARCH = Period.parse("2025-03")


def parts(**given) -> dict:
    return {"tax": D(0), "discount": D(0), "shipping": D(0), "fees": D(0), "other": D(0)} | {
        name: D(value) for name, value in given.items()
    }


TAXED = PostedUnits(tax=D("20.00"), discount=D("6.00"), tax_known=True, discount_known=True)


@pytest.mark.parametrize(
    ("difference", "kwargs", "expected"),
    [
        # Short by exactly the handling fee; over by it (Khaos did not deduct it).
        ("-5.00", {"handling_fee": D("5.00")}, parts(fees="-5.00")),
        ("5.00", {"handling_fee": D("5.00")}, parts(fees="5.00")),
        # The refunded shipping, credited or not.
        ("4.95", {"shipping_refunded": D("4.95")}, parts(shipping="4.95")),
        ("-4.95", {"shipping_refunded": D("4.95")}, parts(shipping="-4.95")),
        # The units' discount, ignored by Khaos or taken twice.
        ("6.00", {"units": TAXED}, parts(discount="6.00")),
        ("-6.00", {"units": TAXED}, parts(discount="-6.00")),
        # The fee and the shipping together, both short.
        (
            "-9.95",
            {"handling_fee": D("5"), "shipping_refunded": D("4.95")},
            parts(fees="-5", shipping="-4.95"),
        ),
        # The note's tax differs from the units': that is tax, and the rest is matched.
        ("-1.00", {"note_tax": D("19.00"), "units": TAXED}, parts(tax="-1.00")),
        (
            "-5.83",
            {"note_tax": D("19.17"), "units": TAXED, "handling_fee": D("5.00")},
            parts(tax="-0.83", fees="-5.00"),
        ),
        ("-3.00", {"note_tax": D("19.00"), "units": TAXED}, parts(tax="-1.00", other="-2.00")),
        # Nothing explains it.
        ("-3.21", {"handling_fee": D("5.00"), "units": TAXED}, parts(other="-3.21")),
        # The tax is not known (no unit carries any): it is not compared.
        ("-1.00", {"note_tax": D("19.00"), "units": PostedUnits()}, parts(other="-1.00")),
        ("0.00", {"note_tax": D("1.00"), "units": TAXED}, parts()),
    ],
)
def test_the_split(difference, kwargs, expected):
    kwargs.setdefault("note_tax", D("20.00"))
    found = split_difference(D(difference), **kwargs)
    assert found == expected
    assert sum(found.values()) == D(difference)


money = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False)
positive = st.decimals(min_value=0, max_value=1_000, places=2, allow_nan=False)


@given(
    difference=money,
    note_tax=money,
    fee=positive,
    shipping=positive,
    tax=money,
    discount=positive,
    tax_known=st.booleans(),
    discount_known=st.booleans(),
)
def test_the_parts_always_add_up_to_the_difference(
    difference, note_tax, fee, shipping, tax, discount, tax_known, discount_known
):
    found = split_difference(
        difference,
        note_tax=note_tax,
        handling_fee=fee,
        shipping_refunded=shipping,
        units=PostedUnits(tax, discount, tax_known, discount_known),
    )
    assert list(found) == ["tax", "discount", "shipping", "fees", "other"]
    assert sum(found.values()) == difference
    assert all(part == part.quantize(D("0.01")) for part in found.values())


# Through the import -------------------------------------------------------------------


def with_units(ref: str, order: str, expected: str, *units, **money):
    posting = served_posting(ref, order, expected)
    ret = posting.return_ref
    for price, discount, tax in units:
        factories.ReturnUnitFactory(
            return_ref=ret, price=D(price), discount=D(discount), tax=D(tax)
        )
    for name, value in money.items():
        setattr(ret, name, D(value))
    ret.save()
    return posting


def import_rows(*rows: str):
    data = (HEADER + "".join(row + "\r\n" for row in rows)).encode()
    return import_credit_notes(io.BytesIO(data), file_name="export.csv").as_dict()


@pytest.fixture
def split_notes(db):
    with_units("LOOP-7001", "7001", "100.00", ("83.33", "0", "16.67"), handling_fee="5.00")
    with_units("LOOP-7002", "7002", "120.00", ("100.00", "0", "20.00"))
    with_units("LOOP-7003", "7003", "50.00", ("41.67", "0", "8.33"), shipping_refunded="4.95")
    with_units("LOOP-7004", "7004", "64.00", ("60.00", "6.00", "10.00"))
    with_units("LOOP-7005", "7005", "30.00", ("25.00", "0", "5.00"), handling_fee="2.00")
    with_units("LOOP-7006", "7006", "10.00")  # no units: nothing known
    result = import_rows(
        "CN1,SR1,LOOP-7001,10/03/2025,GBP,79.17,15.83,95.00",  # short by the fee
        "CN2,SR2,LOOP-7002,10/03/2025,GBP,100.00,19.00,119.00",  # tax 1.00 short
        "CN3,SR3,LOOP-7003,11/03/2025,GBP,45.79,9.16,54.95",  # the shipping credited
        "CN4,SR4,LOOP-7004,11/03/2025,GBP,58.33,11.67,70.00",  # the discount not taken
        "CN5,SR5,LOOP-7005,12/03/2025,GBP,21.97,4.82,26.79",  # nothing explains it
        "CN6,SR6,LOOP-7006,12/03/2025,GBP,8.00,1.00,9.00",
    )
    assert result["matched"] == 6
    return {note.code: note for note in CreditNote.objects.all()}


def split_of(note: CreditNote) -> dict:
    return {
        name: getattr(note, f"difference_{name}")
        for name in ("tax", "discount", "shipping", "fees", "other")
    }


def test_the_import_splits_each_matched_note(split_notes):
    assert split_of(split_notes["CN1"]) == parts(fees="-5.00")
    assert split_of(split_notes["CN2"]) == parts(tax="-1.00")
    assert split_of(split_notes["CN3"]) == parts(shipping="4.95")
    assert split_of(split_notes["CN4"]) == parts(discount="6.00")
    assert split_of(split_notes["CN5"]) == parts(tax="-0.18", other="-3.03")
    assert split_of(split_notes["CN6"]) == parts(other="-1.00")
    for note in split_notes.values():
        assert sum(split_of(note).values()) == note.difference


def test_an_unmatched_note_has_no_split(db):
    import_rows("CN9,SR9,,10/03/2025,GBP,10.00,2.00,12.00")
    assert split_of(CreditNote.objects.get()) == dict.fromkeys(split_of(CreditNote()), None)


def test_the_differences_show_the_split(split_notes):
    rows = {row.credit_note: row for row in differences.rows(MARCH, cause=C.CREDIT_NOTE_DIFFERS)}
    assert rows["CN1"].split == parts(fees="-5.00")
    assert rows["CN1"].detail.endswith("The difference is fees -5.00.")
    assert "tax -0.18, other -3.03" in rows["CN5"].detail
    assert rows["CN6"].split == parts(other="-1.00")


def test_the_api_shows_the_split(split_notes, api_client_for):
    body = api_client_for("finance").get(
        "/api/v1/reconciliation/differences/", {"cause": "credit_note_differs"}
    )
    found = {row["credit_note"]: row["split"] for row in body.json()["results"]}
    assert found["CN1"] == {
        "tax": "0.00",
        "discount": "0.00",
        "shipping": "0.00",
        "fees": "-5.00",
        "other": "0.00",
    }


def test_the_fixture_note_short_by_five_is_other(hub_postings):
    from tests.reconciliation.conftest import EXPORT

    with EXPORT.open("rb") as stream:
        import_credit_notes(stream, file_name="credit_note_export.csv")
    note = CreditNote.objects.get(code="CN0010486")
    assert split_of(note) == parts(other="-5.00")  # ReBound gives no tax, fee or shipping
    assert split_of(CreditNote.objects.get(code="CN0010481")) == parts()
    assert split_of(CreditNote.objects.get(code="CN0010488"))["other"] is None


def test_a_note_matched_by_hand_is_split(db, role_users):
    posting = with_units("LOOP-7101", "7101", "100.00", ("83.33", "0", "16.67"), handling_fee="5")
    note = CreditNote.objects.create(
        code="CN-HAND",
        issued_on=date(2025, 3, 10),
        net=D("79.17"),
        tax=D("15.83"),
        gross=D("95.00"),
        currency="GBP",
    )
    assert matching.match_by_hand(note, posting, role_users["finance"])
    note.refresh_from_db()
    assert split_of(note) == parts(fees="-5.00")


def test_splitting_takes_one_query_whatever_the_number_of_notes(db):
    def notes(prefix: str, n: int) -> list[CreditNote]:
        made = []
        for i in range(n):
            ref = f"LOOP-{prefix}{i}"
            with_units(ref, f"{prefix}{i}", "12.00", ("10.00", "0", "2.00"), handling_fee="1.00")
            made.append(
                CreditNote(
                    code=f"CN{prefix}{i}",
                    associated_ref=ref,
                    issued_on=date(2025, 3, 1),
                    net=D("9.17"),
                    tax=D("1.83"),
                    gross=D("11.00"),
                    currency="GBP",
                )
            )
        return made

    few, many = notes("8", 2), notes("9", 25)
    with sql_log() as small:
        assert len(matching.match(few, matching.Matcher())) == 2
    with sql_log() as large:
        assert len(matching.match(many, matching.Matcher())) == 25
    assert len(small) == len(large)
    assert {note.difference_fees for note in many} == {D("-1.00")}


def test_a_note_matched_on_a_later_import_is_split_then(db):
    row = "CN7,SR7,LOOP-7201,10/03/2025,GBP,79.17,15.83,95.00"
    import_rows(row)
    assert CreditNote.objects.get().difference_fees is None  # nothing to match yet
    with_units("LOOP-7201", "7201", "100.00", ("83.33", "0", "16.67"), handling_fee="5.00")
    import_rows(row)
    assert split_of(CreditNote.objects.get()) == parts(fees="-5.00")
