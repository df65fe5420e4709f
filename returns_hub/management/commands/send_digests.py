from django.core.management.base import BaseCommand, CommandError

from returns_hub.choices import Team
from returns_hub.models import TeamDigest
from returns_hub.services import digests


class Command(BaseCommand):
    help = (
        "Send each enabled team's daily exception digest that is due (once per local day, "
        "at or after its send hour); --force sends now even if already sent today."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", choices=Team.values, help="only this team's digest")
        parser.add_argument(
            "--force", action="store_true", help="send now, whatever the hour or last send"
        )

    def handle(self, *args, **opts):
        team = opts["team"]
        if team and not TeamDigest.objects.filter(team=team).exists():
            raise CommandError(f"no digest is configured for {team} (add one in the admin)")
        outcomes = digests.send_due(team=team, force=opts["force"])
        if not outcomes:
            self.stdout.write("No enabled team digests are configured.")
        for outcome in outcomes:
            verb = "sent" if outcome.sent else "not sent"
            to = f" to {', '.join(outcome.recipients)}" if outcome.recipients else ""
            self.stdout.write(f"{outcome.team}: {verb}{to} — {outcome.result}")
