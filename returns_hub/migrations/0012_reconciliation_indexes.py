"""Indexes for reconciliation by period (benchmarks/reconciliation.py measures them).

Built CONCURRENTLY: with a million returns stored, a plain CREATE INDEX would block
writes to returns and postings (webhooks, Khaos downloads) while it runs. The posting
indexes carry the platform (0011), so a month's figures are read from them alone.
"""

from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("returns_hub", "0011_posting_platform"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="exceptioncase",
            index=models.Index(
                condition=models.Q(("status", "ignored")),
                fields=["resolved_at"],
                name="exception_ignored_at",
            ),
        ),
        AddIndexConcurrently(
            model_name="posting",
            index=models.Index(
                condition=models.Q(("kind", "return"), ("ready_at__isnull", False)),
                fields=["ready_at", "id"],
                include=("state", "expected_credit", "currency", "platform", "return_ref"),
                name="posting_return_ready",
            ),
        ),
        AddIndexConcurrently(
            model_name="posting",
            index=models.Index(
                condition=models.Q(("kind", "return")),
                fields=["created_at", "id"],
                include=("state", "expected_credit", "currency", "platform"),
                name="posting_return_made",
            ),
        ),
        AddIndexConcurrently(
            model_name="posting",
            index=models.Index(
                condition=models.Q(("kind", "return"), ("state__in", ["ready", "downloaded"])),
                fields=["id", "ready_at"],
                name="posting_outstanding",
            ),
        ),
        AddIndexConcurrently(
            model_name="return",
            index=models.Index(
                condition=models.Q(("refunded_at__isnull", False)),
                fields=["refunded_at", "id"],
                include=("connection", "currency", "refunded_amount", "state", "money_state"),
                name="return_refunded_at",
            ),
        ),
        AddIndexConcurrently(
            model_name="return",
            index=models.Index(
                fields=["id"],
                include=("connection", "refunded_amount", "store_credit_amount", "exchange_amount"),
                name="return_settlement",
            ),
        ),
    ]
