"""generate_returns leaves its tables vacuumed and analysed, so the first Khaos page after
generating reads index-only like a warm one."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from returns_hub.models import Return
from tests import factories


def _stats(table: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = %s",
            [table],
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_generated_returns_are_vacuumed_and_analysed(workspace):
    out = io.StringIO()
    call_command("generate_returns", connection="hf-rebound", count=30, batch=10, stdout=out)
    assert Return.objects.filter(connection__slug="hf-rebound").count() >= 30
    assert "VACUUM (ANALYZE): returns_hub_return, returns_hub_returnunit, returns_hub_posting" in (
        out.getvalue()
    )
    for table in ("returns_hub_return", "returns_hub_returnunit", "returns_hub_posting"):
        last_vacuum, last_analyze = _stats(table)
        assert last_vacuum is not None and last_analyze is not None, table


def test_inside_a_transaction_it_analyses_only(db):
    from returns_hub.management.commands.generate_returns import settle

    factories.ReturnFactory()
    assert settle() == "ANALYZE"
