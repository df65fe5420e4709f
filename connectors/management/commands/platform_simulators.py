"""Run the five platform simulators against a hub: demo traffic, and APIs to poll."""

import time
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand

from connectors import simulators
from connectors.base.simulator import Knobs
from returns_hub.models import PlatformConnection


class Command(BaseCommand):
    help = "Serve each demo connection's platform API and send it signed webhooks (Ctrl-C stops)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the hub")
        parser.add_argument("--every", type=float, default=8.0, help="seconds between ticks")
        parser.add_argument("--new", type=int, default=1, help="new returns per platform a tick")
        parser.add_argument("--ticks", type=int, default=0, help="stop after this many (0: never)")
        parser.add_argument("--duplicates", action="store_true")
        parser.add_argument("--out-of-order", action="store_true")
        parser.add_argument("--bad-signature-rate", type=float, default=0.0)
        parser.add_argument("--outage", action="store_true")

    def handle(self, *args, **opts):
        knobs = Knobs(
            duplicates=opts["duplicates"],
            out_of_order=opts["out_of_order"],
            bad_signature_rate=opts["bad_signature_rate"],
            outage=opts["outage"],
        )
        running = []
        for connection in PlatformConnection.objects.filter(slug__startswith="demo-", enabled=True):
            sim = simulators.for_connection(
                connection,
                opts["url"],
                secret=connection.webhook_secret,
                api_key=connection.api_key,
                knobs=knobs,
            )
            port = urlsplit(connection.base_url).port or 0
            self.stdout.write(f"{connection.platform} simulator on {sim.serve(port)}")
            running.append(sim)
        tick = 0
        try:
            while not opts["ticks"] or tick < opts["ticks"]:
                tick += 1
                sent = sum(sim.tick(new=opts["new"]) for sim in running)
                self.stdout.write(f"tick {tick}: {sent} webhooks sent")
                time.sleep(opts["every"])
        except KeyboardInterrupt:
            pass
        finally:
            for sim in running:
                sim.stop()
