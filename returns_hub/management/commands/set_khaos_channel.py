from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from returns_hub.choices import KhaosFormat, SourceReferenceKey
from returns_hub.models import KhaosChannel, PlatformConnection


class Command(BaseCommand):
    help = "Create or update a Khaos Control Cloud channel (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--format", choices=KhaosFormat.values, type=str.upper)
        parser.add_argument("--default-urn")
        parser.add_argument("--site-id", type=int)
        parser.add_argument(
            "--sales-source", help="Khaos sales source name that exchange orders carry"
        )
        parser.add_argument(
            "--company-class", help="Khaos company class (name or ID) that exchange orders carry"
        )
        parser.add_argument(
            "--source-reference-key",
            choices=SourceReferenceKey.values,
            help="the key naming a returned item's sales order: SourceReference (the vendor's "
            "property table, the default) or SourceReturnReference (its examples)",
        )

    @transaction.atomic
    def handle(self, *args, **opts):
        channel = KhaosChannel.objects.filter(slug=opts["slug"]).first()
        created = channel is None
        if created:
            channel = KhaosChannel(slug=opts["slug"])
        channel.username = opts["username"]
        channel.set_password(opts["password"])
        if opts["format"]:
            channel.format = opts["format"]
        if opts["default_urn"] is not None:
            channel.default_urn = opts["default_urn"].strip()
        if opts["site_id"] is not None:
            if opts["site_id"] < 1:
                raise CommandError("--site-id must be a Khaos site ID (1 or more)")
            channel.site_id = opts["site_id"]
        if opts["sales_source"] is not None:
            channel.sales_source = opts["sales_source"].strip()
        if opts["company_class"] is not None:
            channel.company_class_id = opts["company_class"].strip()
        if opts["source_reference_key"] is not None:
            channel.source_reference_key = opts["source_reference_key"]
        try:
            channel.full_clean()
        except Exception as exc:
            raise CommandError(f"invalid channel: {exc}") from None
        channel.save()
        if KhaosChannel.objects.count() == 1:
            # With a single channel every connection posts to it.
            PlatformConnection.objects.filter(khaos_channel__isnull=True).update(
                khaos_channel=channel
            )
        self.stdout.write(
            f"{'Created' if created else 'Updated'} Khaos channel {channel.slug!r}: "
            f"user {channel.username!r}, format {channel.format}, "
            f"default URN {channel.default_urn or '(none)'}, site {channel.site_id}, "
            f"sales source {channel.sales_source or '(none)'}, "
            f"company class {channel.company_class_id or '(none)'}, "
            f"order link {channel.source_reference_key}, "
            f"configuration file /khaos/{channel.slug}/config"
        )
