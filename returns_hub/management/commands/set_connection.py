from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from returns_hub import platforms
from returns_hub.models import KhaosChannel, PlatformConnection


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

    @transaction.atomic
    def handle(self, *args, **opts):
        try:
            spec = platforms.get(opts["platform"])
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        slug = opts["slug"]
        connection = PlatformConnection.objects.filter(slug=slug).first()
        if connection is not None and connection.platform != spec.slug:
            raise CommandError(f"{slug!r} is already a {connection.platform} connection")
        created = connection is None
        if created:
            connection = PlatformConnection(
                platform=spec.slug, slug=slug, posting_policy=spec.default_policy
            )
        if opts["webhook_secret"] is not None:
            connection.webhook_secret = opts["webhook_secret"]
        if opts["api_key"] is not None:
            connection.api_key = opts["api_key"]
        if opts["base_url"] is not None:
            connection.base_url = opts["base_url"]
        if opts["poll_minutes"] is not None:
            if opts["poll_minutes"] < 0:
                raise CommandError("--poll-minutes must be 0 (off) or more")
            connection.poll_minutes = opts["poll_minutes"]
        if opts["settlement_wait_hours"] is not None:
            if opts["settlement_wait_hours"] < 0:
                raise CommandError("--settlement-wait-hours must be 0 (post on the grade) or more")
            connection.settlement_wait_hours = opts["settlement_wait_hours"]
        if opts["units_not_arrived_days"] is not None:
            if opts["units_not_arrived_days"] < 1:
                raise CommandError("--units-not-arrived-days must be 1 or more")
            connection.units_not_arrived_days = opts["units_not_arrived_days"]
        if opts["currency"] is not None:
            connection.currency = opts["currency"].strip().upper()
        if opts["time_zone"] is not None:
            connection.time_zone = opts["time_zone"].strip()
        connection.options = self._options(dict(connection.options or {}), opts["option"])
        if opts["policy"]:
            connection.posting_policy = opts["policy"]
        connection.enabled = not opts["disabled"]
        connection.khaos_channel = self._channel(opts["channel"], connection.khaos_channel)
        try:
            connection.full_clean()
        except Exception as exc:
            raise CommandError(f"invalid connection: {exc}") from None
        connection.save()
        self.stdout.write(
            f"{'Created' if created else 'Updated'} {spec.label} connection {slug!r}: "
            f"{'enabled' if connection.enabled else 'disabled'}, "
            f"policy {connection.posting_policy}, "
            f"settlement wait {connection.settlement_wait}h, "
            f"currency {connection.currency}, time zone {connection.time_zone}, "
            f"webhook secret {connection.webhook_secret_masked or '(none)'}, "
            f"API key {connection.api_key_masked or '(none)'}, "
            f"webhook URL /webhooks/{spec.slug}/{slug}/"
        )

    @staticmethod
    def _options(options: dict, pairs: list[str]) -> dict:
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--option takes KEY=VALUE, got {pair!r}")
            if value:
                options[key.strip()] = value
            else:
                options.pop(key.strip(), None)
        return options

    def _channel(self, slug, current):
        if slug:
            channel = KhaosChannel.objects.filter(slug=slug).first()
            if channel is None:
                raise CommandError(f"no Khaos channel {slug!r}; create it with set_khaos_channel")
            return channel
        if current is not None:
            return current
        channels = list(KhaosChannel.objects.all()[:2])
        return channels[0] if len(channels) == 1 else None
