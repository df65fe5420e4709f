"""Play Khaos Control Cloud against a running hub: poll, import, push back."""

import os
import time
from pathlib import Path

import httpx
from django.core.management.base import BaseCommand

from connectors.khaos import demo
from connectors.khaos.simulator import Faults, KhaosSimulator


class Command(BaseCommand):
    help = "Run the Khaos simulator against the hub's channel (Ctrl-C to stop)."

    def add_arguments(self, parser):
        port = os.environ.get("PORT", "8000")
        parser.add_argument("--url", default=f"http://127.0.0.1:{port}")
        parser.add_argument("--channel", default="demo")
        parser.add_argument("--username", default="khaos")
        parser.add_argument(
            "--password", default=os.environ.get("DEMO_KHAOS_PASSWORD", "khaos-demo")
        )
        parser.add_argument("--format", default="JSON", choices=["JSON", "XML"], type=str.upper)
        parser.add_argument("--every", type=float, default=15.0, help="seconds between cycles")
        parser.add_argument("--once", action="store_true", help="one cycle, then stop")
        parser.add_argument(
            "--push-master",
            action="store_true",
            help="push the product master and stock levels first",
        )
        parser.add_argument("--credit-notes", type=Path, help="write the credit note CSV here")
        parser.add_argument("--lost-rate", type=float, default=0.0)
        parser.add_argument("--error-rate", type=float, default=0.0)
        parser.add_argument("--slow", type=float, default=0.0, help="seconds added to each call")
        parser.add_argument("--repeat-pushes", type=int, default=0)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, **opts):
        faults = Faults(
            lost_rate=opts["lost_rate"],
            error_rate=opts["error_rate"],
            slow_seconds=opts["slow"],
            repeat_pushes=opts["repeat_pushes"],
            seed=opts["seed"],
        )
        sim = KhaosSimulator(
            opts["url"],
            opts["channel"],
            opts["username"],
            opts["password"],
            demo.demo_state(),
            fmt=opts["format"],
            faults=faults,
        )
        self._wait_for_hub(opts["url"])
        sim.load_config()
        if opts["push_master"]:
            sim.push_stock(demo.stock_upload()["Items"])
            pushed = sim.push_stock_status(
                codes={p.stock_code for p in sim.state.products.values()}
            )
            self.stdout.write(f"Khaos pushed the product master and {pushed} stock levels")
        try:
            while True:
                result = sim.run_once()
                self.stdout.write(
                    f"Khaos: {result['returns']} returns and {result['orders']} exchange orders "
                    f"imported; {len(sim.state.returns)} sales returns, "
                    f"{len(sim.state.credit_notes)} credit notes, {len(sim.state.refused)} refused "
                    f"so far"
                )
                for ref, why in sorted(sim.state.refused.items())[:5]:
                    self.stdout.write(f"  refused {ref}: {why}")
                if opts["credit_notes"]:
                    opts["credit_notes"].write_text(sim.credit_note_csv())
                if opts["once"]:
                    return
                time.sleep(opts["every"])
        except KeyboardInterrupt:
            self.stdout.write("Khaos simulator stopped.")

    def _wait_for_hub(self, url: str) -> None:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stderr.write(f"the hub at {url} did not answer; trying anyway")
