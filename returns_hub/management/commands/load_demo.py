"""The demo workspace: product master, mapping tables, users, connections, channel; with
``--scenarios`` (as `make run` starts), the story each team finds waiting."""

import json
import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from returns_hub import platforms
from returns_hub.choices import Team
from returns_hub.models import PlatformConnection
from returns_hub.resources import MAPPING_FILES
from returns_hub.services.generate import generate
from returns_hub.services.products import apply_stock_status, apply_stock_upload

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"
CREDIT_NOTES = DEMO_DIR / "credit_note_export.csv"
DEMO_RETURNS = 40
# Each platform's simulator listens on its own local port, from 8101 (see the README).
SIMULATOR_PORTS = 8101


class Command(BaseCommand):
    help = "Load the demo workspace once (safe to run again: it creates only what is missing)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scenarios",
            action="store_true",
            help="also play the shared fixtures' scenarios through the hub, so each team "
            "has work waiting (once: a second run adds nothing)",
        )

    def handle(self, *args, **opts):
        password = os.environ.get("DEMO_PASSWORD", "returns-demo")
        with transaction.atomic():
            self._channel()
            self._connections()
            self._products()
            self._mappings()
            self._users(password)
            if opts["scenarios"]:
                # Before the generated returns: the story's first posting is the oldest.
                self._scenarios()
            self._returns()
        self.stdout.write(self.style.SUCCESS("Demo workspace ready."))
        if opts["scenarios"]:
            self.stdout.write(
                f"Finance: Khaos's credit note export is at {CREDIT_NOTES}; import it at "
                "/finance/credit-notes/upload/."
            )

    def _scenarios(self):
        """The story: the fixtures' returns and the situations they do not raise."""
        from connectors.base import demo

        apply_stock_status(json.loads((DEMO_DIR / "stock_status_upload.json").read_text()))
        connections = {
            c.platform: c for c in PlatformConnection.objects.filter(slug__startswith="demo-")
        }
        story = demo.tell(connections, connections["loop"].khaos_channel, self._pilot(connections))
        self.stdout.write(
            f"Scenarios: {story.new} deliveries processed through the hub, {story.seen} seen before"
        )
        for note in story.notes:
            self.stdout.write(f"  {note}")

    def _pilot(self, connections) -> PlatformConnection:
        """A ReBound store being onboarded: no Khaos channel yet, and an API key ReBound
        refuses (its polls go to the demo's ReBound, which knows another key)."""
        from connectors.base.demo import PILOT_SLUG

        if not PlatformConnection.objects.filter(slug=PILOT_SLUG).exists():
            call_command(
                "set_connection",
                "rebound",
                PILOT_SLUG,
                webhook_secret="pilot-rebound-webhook-secret",
                api_key="pilot-rebound-api-key",
                base_url=connections["rebound"].base_url,
                poll_minutes=5,
                stdout=self.stdout,
            )
            pilot = PlatformConnection.objects.get(slug=PILOT_SLUG)
            # Not linked to the channel yet, as the data team would leave it in the admin
            # (set_connection links a new connection to the only channel there is).
            pilot.khaos_channel = None
            pilot.save()
        return PlatformConnection.objects.get(slug=PILOT_SLUG)

    def _channel(self):
        call_command(
            "set_khaos_channel",
            "demo",
            username="khaos",
            password=os.environ.get("DEMO_KHAOS_PASSWORD", "khaos-demo"),
            site_id=1,
            sales_source="Web",
            company_class="Retail",
            stdout=self.stdout,
        )

    def _connections(self):
        for offset, spec in enumerate(platforms.all_specs()):
            platform, slug, port = spec.slug, f"demo-{spec.slug}", SIMULATOR_PORTS + offset
            if PlatformConnection.objects.filter(slug=slug).exists():
                continue
            call_command(
                "set_connection",
                platform,
                slug,
                webhook_secret=f"demo-{platform}-webhook-secret",
                api_key=f"demo-{platform}-api-key",
                base_url=f"http://127.0.0.1:{port}",
                poll_minutes=5,
                channel="demo",
                stdout=self.stdout,
            )

    def _products(self):
        for name in ("stock_upload_previous.json", "stock_upload.json"):
            result = apply_stock_upload(json.loads((DEMO_DIR / name).read_text()))
            self.stdout.write(
                f"Product master from {name}: {result.created} new, {result.updated} updated, "
                f"{result.renamed} renamed, {result.deleted} deleted"
            )

    def _mappings(self):
        for table, name in MAPPING_FILES:
            call_command(
                "import_mappings", table, str(DEMO_DIR / name), apply=True, stdout=self.stdout
            )

    def _returns(self):
        """Graded returns ready for Khaos, so the simulator has something to import."""
        connection = PlatformConnection.objects.get(slug="demo-rebound")
        if connection.returns.exists():
            return
        made = generate(connection, DEMO_RETURNS, prefix="DEMO", batch=DEMO_RETURNS)
        self.stdout.write(f"{made} graded demo returns ready for Khaos")

    def _users(self, password: str):
        users = get_user_model()
        if not users.objects.filter(username="admin").exists():
            users.objects.create_superuser("admin", "admin@example.com", password)
            self.stdout.write(f"User admin (superuser), password {password!r}")
        for team in Team.values:
            if users.objects.filter(username=team).exists():
                continue
            user = users.objects.create_user(team, f"{team}@example.com", password, is_staff=True)
            user.groups.add(Group.objects.get(name=team))
            self.stdout.write(f"User {team} (team {team}), password {password!r}")
