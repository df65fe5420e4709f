"""Indexes for the teams' screens (benchmarks/screens.py measures them).

The mapping searches match by prefix (``LIKE 'text%'``): the database's collation is not
C, so only a ``varchar_pattern_ops`` index answers them. The dashboard reads each Khaos
channel's last download, and the warehouse scan box a return by its label's barcode.

Built CONCURRENTLY: with a million returns and postings stored, a plain CREATE INDEX would
block writes (webhooks, Khaos downloads) while it runs.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("returns_hub", "0013_saved_filters"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="skumapping",
            index=models.Index(
                fields=["platform_sku"],
                opclasses=["varchar_pattern_ops"],
                name="sku_mapping_sku_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="skumapping",
            index=models.Index(
                fields=["stock_code"],
                opclasses=["varchar_pattern_ops"],
                name="sku_mapping_code_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="reasonmapping",
            index=models.Index(
                fields=["reason"],
                opclasses=["varchar_pattern_ops"],
                name="reason_mapping_reason_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="dispositionmapping",
            index=models.Index(
                fields=["disposition"],
                opclasses=["varchar_pattern_ops"],
                name="disposition_mapping_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="customermapping",
            index=models.Index(
                fields=["email"],
                opclasses=["varchar_pattern_ops"],
                name="customer_mapping_email_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="customermapping",
            index=models.Index(
                fields=["urn"],
                opclasses=["varchar_pattern_ops"],
                name="customer_mapping_urn_prefix",
            ),
        ),
        AddIndexConcurrently(
            model_name="posting",
            index=models.Index(
                condition=models.Q(("last_downloaded_at__isnull", False)),
                fields=["channel", "-last_downloaded_at"],
                name="posting_last_download",
            ),
        ),
        AddIndexConcurrently(
            model_name="return",
            index=models.Index(fields=["label_tracking"], name="return_label_tracking"),
        ),
    ]
