"""Posting.platform: every posting carries its return's connection's platform, set where
the posting is made, so reconciliation groups postings without joining their returns."""

import importlib

import pytest
from django.db import IntegrityError, connection, transaction

from returns_hub.choices import PostingKind
from returns_hub.models import ExchangeRequest, Posting
from returns_hub.services import postings, timeline
from returns_hub.services.generate import generate
from tests import factories

pytestmark = pytest.mark.django_db

platform_migration = importlib.import_module("returns_hub.migrations.0011_posting_platform")


def test_hold_return_sets_the_connections_platform():
    ret = factories.ReturnFactory(
        connection=factories.PlatformConnectionFactory(platform="rebound", slug="hf-rebound")
    )
    posting = postings.hold_return(ret, None, timeline.TASK)
    posting.refresh_from_db()
    assert (posting.kind, posting.platform) == (PostingKind.RETURN, "rebound")


def test_hold_exchange_sets_the_connections_platform():
    ret = factories.ReturnFactory(
        connection=factories.PlatformConnectionFactory(platform="swap", slug="hf-swap")
    )
    swap = ExchangeRequest.objects.create(return_ref=ret, external_id="x1", platform_sku="X")
    posting = postings.hold_exchange(ret, swap, None, timeline.TASK)
    posting.refresh_from_db()
    assert (posting.kind, posting.platform) == (PostingKind.EXCHANGE_ORDER, "swap")


def test_generated_postings_carry_the_platform(workspace):
    rebound = workspace.connections["rebound"]
    assert generate(rebound, 5, prefix="PLAT", batch=2) == 5
    made = Posting.objects.filter(return_ref__external_id__startswith="PLAT")
    assert sorted(made.values_list("platform", flat=True)) == ["rebound"] * 5


def test_the_factory_sets_it_from_the_return():
    posting = factories.PostingFactory(
        return_ref=factories.ReturnFactory(
            connection=factories.PlatformConnectionFactory(platform="reveni", slug="hf-reveni")
        )
    )
    assert posting.platform == "reveni"


def test_a_posting_made_without_a_platform_is_refused():
    ret = factories.ReturnFactory()
    with pytest.raises(IntegrityError, match="posting_has_platform"), transaction.atomic():
        Posting.objects.create(
            return_ref=ret, kind=PostingKind.RETURN, associated_ref="X-1", currency="GBP"
        )


def test_the_migrations_backfill_fills_each_posting_from_its_connection():
    loop = factories.PostingFactory()
    swap = factories.PostingFactory(
        return_ref=factories.ReturnFactory(
            connection=factories.PlatformConnectionFactory(platform="swap", slug="hf-swap")
        )
    )
    with connection.cursor() as cursor:
        # As before the migration: the guard not yet there, the column blank (the test's
        # deferred foreign key checks run first: PostgreSQL alters no table with them due).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE returns_hub_posting DROP CONSTRAINT posting_has_platform")
        cursor.execute("UPDATE returns_hub_posting SET platform = ''")
        cursor.execute(platform_migration.BACKFILL)
        assert cursor.rowcount == 2
    loop.refresh_from_db()
    swap.refresh_from_db()
    assert (loop.platform, swap.platform) == ("loop", "swap")
