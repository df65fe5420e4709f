"""CreditNote.platform: the matched posting's platform (blank while unmatched), so the
period's "confirmed" figure and credit_note_differs read it from the note alone; and an
index of the matched notes by date carrying what those figures sum.

The backfill copies it from each matched note's posting (returns_hub 0011 filled those).
"""

from django.db import migrations, models

BACKFILL = """
UPDATE reconciliation_creditnote n SET platform = p.platform
FROM returns_hub_posting p
WHERE p.id = n.posting_id AND n.platform IS DISTINCT FROM p.platform
"""


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0003_rules_acceptances_packs"),
        ("returns_hub", "0011_posting_platform"),
    ]

    operations = [
        migrations.AddField(
            model_name="creditnote",
            name="platform",
            field=models.CharField(blank=True, editable=False, max_length=32),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=False),
        migrations.AddIndex(
            model_name="creditnote",
            index=models.Index(
                condition=models.Q(("posting__isnull", False)),
                fields=["issued_on"],
                include=("gross", "currency", "platform", "difference"),
                name="credit_note_matched_on",
            ),
        ),
    ]
