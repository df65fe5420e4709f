"""Generate graded returns with ready postings, in bulk, with a progress bar."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from returns_hub.models import PlatformConnection, Return
from returns_hub.services.generate import generate


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
