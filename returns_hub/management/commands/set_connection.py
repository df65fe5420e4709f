from django.core.management.base import BaseCommand, CommandError

from returns_hub.services import connections
from returns_hub.services.connections import UNCHANGED, SettingsInvalid


class Command(BaseCommand):
    help = "Create or update a platform connection (idempotent). Secrets are never printed."

    def add_arguments(self, parser):
        parser.add_argument("platform", help="loop, happy-returns, reveni, swap or rebound")
        parser.add_argument("slug", help="the connection's name in webhook URLs")
        parser.add_argument("--webhook-secret")
        parser.add_argument("--api-key")
        parser.add_argument("--base-url")
        parser.add_argument("--poll-minutes", type=int)
        parser.add_argument(
            "--settlement-wait-hours",
            type=int,
            help="hours a graded return waits for the platform's refund, credit or exchange "
            "before it is settlement_missing; 0 posts on the grade alone "
            "(default: 24 for Loop and Swap, 0 elsewhere)",
        )
        parser.add_argument(
            "--units-not-arrived-days",
            type=int,
            help="days after a refund before units not yet arrived are units_not_arrived "
            "(default 21)",
        )
        parser.add_argument(
            "--currency", help="ISO 4217 code for returns whose platform sends none (GBP)"
        )
        parser.add_argument(
            "--time-zone", help="how to read the platform's times without a zone (Europe/London)"
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a platform option (repeatable), e.g. auth=jwt; KEY= removes it",
        )
        parser.add_argument("--disabled", action="store_true", help="accept nothing from it")
        parser.add_argument("--policy", help="override the platform's default posting policy")
        parser.add_argument("--channel", help="Khaos channel slug (default: the only one)")

    def handle(self, *args, **opts):
        def given(name):
            return opts[name] if opts[name] is not None else UNCHANGED

        try:
            saved = connections.save_connection(
                opts["platform"],
                opts["slug"],
                webhook_secret=given("webhook_secret"),
                api_key=given("api_key"),
                base_url=given("base_url"),
                poll_minutes=given("poll_minutes"),
                settlement_wait_hours=given("settlement_wait_hours"),
                units_not_arrived_days=given("units_not_arrived_days"),
                currency=given("currency"),
                time_zone=given("time_zone"),
                option_pairs=opts["option"],
                posting_policy=opts["policy"] or UNCHANGED,
                enabled=not opts["disabled"],
                channel=opts["channel"] or UNCHANGED,
            )
        except SettingsInvalid as exc:
            raise CommandError(f"invalid connection: {_as_options(exc)}") from None
        connection, slug = saved.record, opts["slug"]
        self.stdout.write(
            f"{'Created' if saved.created else 'Updated'} {connection.spec.label} connection "
            f"{slug!r}: "
            f"{'enabled' if connection.enabled else 'disabled'}, "
            f"policy {connection.posting_policy}, "
            f"settlement wait {connection.settlement_wait}h, "
            f"currency {connection.currency}, time zone {connection.time_zone}, "
            f"webhook secret {connection.webhook_secret_masked or '(none)'}, "
            f"API key {connection.api_key_masked or '(none)'}, "
            f"webhook URL /webhooks/{connection.platform}/{slug}/"
        )


def _as_options(error: SettingsInvalid) -> str:
    """The service's messages under the command's option names (``--poll-minutes …``)."""
    return "; ".join(
        f"--{name.replace('_', '-')} {' '.join(messages)}"
        if name not in ("__all__", "platform", "slug")
        else " ".join(messages)
        for name, messages in error.errors.items()
    )
