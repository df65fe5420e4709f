"""Posting.platform: the platform of the posting's return's connection, stored on the
posting so reconciliation groups a month's postings by platform without joining each to
its return and connection.

Added blank, filled from the connection in one statement, then guarded: a posting made
without a platform is refused from now on. Atomic: the column, its values and its
guard arrive together (the indexes that read it come next, concurrently, in 0012).
"""

from django.db import migrations, models

import returns_hub.platforms

BACKFILL = """
UPDATE returns_hub_posting p SET platform = c.platform
FROM returns_hub_return r JOIN returns_hub_platformconnection c ON c.id = r.connection_id
WHERE r.id = p.return_ref_id AND p.platform = ''
"""


class Migration(migrations.Migration):
    dependencies = [
        ("returns_hub", "0010_team_digests"),
    ]

    operations = [
        migrations.AddField(
            model_name="posting",
            name="platform",
            field=models.CharField(
                choices=returns_hub.platforms.choices, default="", editable=False, max_length=32
            ),
            preserve_default=False,
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=False),
        migrations.AddConstraint(
            model_name="posting",
            constraint=models.CheckConstraint(
                condition=models.Q(("platform", ""), _negated=True), name="posting_has_platform"
            ),
        ),
    ]
