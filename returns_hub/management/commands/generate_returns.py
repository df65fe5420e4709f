"""Generate graded returns with ready postings, in bulk, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection as db
from tqdm import tqdm

from returns_hub.models import PlatformConnection, Posting, Return, ReturnUnit
from returns_hub.services.generate import generate

# What generate() writes. Rows bulk-inserted a moment ago have no visibility map and the
# planner's statistics predate them, so the first reads (a Khaos page right after
# generating) fetch every row from the heap until autovacuum comes round: settle them now.
WRITTEN = (Return, ReturnUnit, Posting)


def settle(models=WRITTEN) -> str:
    """VACUUM (ANALYZE) the tables, or ANALYZE alone inside a transaction (VACUUM cannot
    run in one); what was done, for the command's output."""
    verb = "ANALYZE" if db.in_atomic_block else "VACUUM (ANALYZE)"
    with db.cursor() as cursor:
        for model in models:
            cursor.execute(f"{verb} {db.ops.quote_name(model._meta.db_table)}")
    return verb


class Command(BaseCommand):
    help = "Generate graded returns with ready Khaos postings (for benchmarks and load)."

    def add_arguments(self, parser):
        parser.add_argument("--connection", default="demo-rebound", help="connection slug")
        parser.add_argument("--count", type=int, default=1000, help="how many to make")
        parser.add_argument("--until", type=int, help="make as many as needed to reach this total")
        parser.add_argument("--batch", type=int, default=5000)
        parser.add_argument("--prefix", default="GEN")

    def handle(self, *args, **opts):
        connection = PlatformConnection.objects.filter(slug=opts["connection"]).first()
        if connection is None:
            raise CommandError(f"no connection {opts['connection']!r} (run load_demo first)")
        existing = Return.objects.filter(connection=connection).count()
        count = opts["count"] if opts["until"] is None else max(0, opts["until"] - existing)
        if count == 0:
            self.stdout.write(f"{existing} returns already; nothing to make")
            return
        prefix = f"{opts['prefix']}{existing}-"
        with tqdm(total=count, unit="return", file=self.stderr, mininterval=1) as bar:
            made = generate(
                connection,
                count,
                prefix=prefix,
                batch=opts["batch"],
                progress=lambda done: bar.update(done - bar.n),
            )
        self.stdout.write(f"Made {made} returns; {existing + made} on {connection.slug}")
        verb = settle()
        self.stdout.write(f"{verb}: {', '.join(m._meta.db_table for m in WRITTEN)}")
