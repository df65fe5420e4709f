"""Constraints are enforced by PostgreSQL, not only by code."""

import pytest
from django.db import IntegrityError, transaction

from returns_hub.choices import ExceptionKind, ExceptionStatus, PostingKind, Team
from returns_hub.models import CustomerMapping, InboxDelivery, KhaosChannel, SkuMapping
from returns_hub.services.exceptions import open_exception
from tests import factories

pytestmark = pytest.mark.django_db


def _violates(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_a_return_is_unique_per_connection_and_platform_id():
    ret = factories.ReturnFactory(external_id="5001")
    _violates(lambda: factories.ReturnFactory(connection=ret.connection, external_id="5001"))
    other = factories.PlatformConnectionFactory()
    assert factories.ReturnFactory(connection=other, external_id="5001").pk


def test_a_unit_is_unique_per_return():
    unit = factories.ReturnUnitFactory(external_id="9100101")
    _violates(
        lambda: factories.ReturnUnitFactory(return_ref=unit.return_ref, external_id="9100101")
    )


def test_inbox_dedup_key_is_unique_per_connection(loop_connection):
    def make():
        return InboxDelivery.objects.create(
            connection=loop_connection, source="webhook", dedup_key="k1", body=b"{}"
        )

    make()
    _violates(make)


def test_associated_ref_is_unique_per_channel_and_kind():
    posting = factories.PostingFactory()
    _violates(
        lambda: factories.PostingFactory(
            channel=posting.channel, associated_ref=posting.associated_ref
        )
    )


def test_an_exchange_order_posting_names_its_exchange():
    _violates(lambda: factories.PostingFactory(kind=PostingKind.EXCHANGE_ORDER, exchange=None))


def test_one_open_exception_per_cause_in_the_database():
    case = factories.ExceptionCaseFactory(cause_key="unknown_sku:ret:1:X")
    _violates(lambda: factories.ExceptionCaseFactory(cause_key="unknown_sku:ret:1:X"))
    case.status = ExceptionStatus.RESOLVED
    case.save()
    assert factories.ExceptionCaseFactory(cause_key="unknown_sku:ret:1:X").pk


def test_open_exception_reuses_the_open_one_and_counts_occurrences():
    ret = factories.ReturnFactory()
    first, created = open_exception(
        ExceptionKind.UNKNOWN_SKU, cause_key="c1", message="m", return_ref=ret
    )
    again, created_again = open_exception(
        ExceptionKind.UNKNOWN_SKU, cause_key="c1", message="m", return_ref=ret
    )
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    first.refresh_from_db()
    assert first.occurrences == 2
    assert first.owner == Team.DATA


@pytest.mark.parametrize(
    ("kind", "owner"),
    [
        ("unknown_sku", "data"),
        ("inactive_sku", "data"),
        ("unmapped_reason", "data"),
        ("invalid_payload", "data"),
        ("platform_unreachable", "data"),
        ("unmapped_disposition", "warehouse"),
        ("missing_source_order", "cx"),
        ("unknown_customer", "cx"),
        ("exchange_unavailable", "cx"),
        ("value_mismatch", "finance"),
        ("posting_unconfirmed", "finance"),
    ],
)
def test_every_exception_kind_has_its_fixed_owner(kind, owner):
    case = factories.ExceptionCaseFactory(kind=kind, owner="")
    assert case.owner == owner


def test_an_unknown_exception_kind_is_refused_by_the_database():
    _violates(lambda: factories.ExceptionCaseFactory(kind="made_up", owner="data"))


def test_customer_emails_are_unique_whatever_their_case():
    CustomerMapping.objects.create(email=" Eleanor.Whitfield@Example.com ", urn="WEB10231")
    assert CustomerMapping.objects.get().email == "eleanor.whitfield@example.com"
    _violates(
        lambda: CustomerMapping.objects.create(email="ELEANOR.whitfield@example.com", urn="X")
    )
    # Even a bulk insert that skips save() cannot add a case variant.
    _violates(
        lambda: CustomerMapping.objects.bulk_create(
            [CustomerMapping(email="Eleanor.Whitfield@example.com", urn="X")]
        )
    )


def test_sku_mapping_is_unique_per_platform_and_keeps_history(db):
    row = SkuMapping.objects.create(platform="loop", platform_sku="A", stock_code="HF-A")
    row.stock_code = "HF-B"
    row.save()
    assert [h.stock_code for h in row.history.order_by("history_id")] == ["HF-A", "HF-B"]
    _violates(lambda: SkuMapping.objects.create(platform="loop", platform_sku="A", stock_code="Z"))


def test_khaos_batch_size_is_at_most_one_thousand():
    _violates(lambda: factories.KhaosChannelFactory(slug="big", batch_size=1001))


def test_channel_keeps_only_a_password_hash():
    channel = KhaosChannel(slug="c", username="khaos")
    channel.set_password("s3cret-pass")
    channel.save()
    assert "s3cret-pass" not in channel.password_hash
    assert channel.check_credentials("khaos", "s3cret-pass")
    assert not channel.check_credentials("khaos", "wrong")
    assert not channel.check_credentials("other", "s3cret-pass")


def test_connection_secrets_are_masked():
    connection = factories.PlatformConnectionFactory(
        webhook_secret="whsec_abcdefghijklmnop", api_key="short"
    )
    assert connection.webhook_secret_masked == "••••••••mnop"
    assert connection.api_key_masked == "••••••••"
    assert "abcdefghijkl" not in connection.webhook_secret_masked


def test_unit_expected_credit_is_price_less_discount_plus_tax():
    from decimal import Decimal

    unit = factories.ReturnUnitFactory(
        price=Decimal("124.17"), discount=Decimal("18.63"), tax=Decimal("21.11")
    )
    assert unit.expected_credit == Decimal("126.65")
