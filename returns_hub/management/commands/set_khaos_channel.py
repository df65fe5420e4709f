from django.core.management.base import BaseCommand, CommandError

from returns_hub.choices import KhaosFormat, SourceReferenceKey
from returns_hub.services import connections
from returns_hub.services.connections import UNCHANGED, SettingsInvalid


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

    def handle(self, *args, **opts):
        def given(name):
            return opts[name] if opts[name] is not None else UNCHANGED

        try:
            saved = connections.save_channel(
                opts["slug"],
                username=opts["username"],
                password=opts["password"],
                format=opts["format"] or UNCHANGED,
                default_urn=given("default_urn"),
                site_id=given("site_id"),
                sales_source=given("sales_source"),
                company_class=given("company_class"),
                source_reference_key=given("source_reference_key"),
            )
        except SettingsInvalid as exc:
            raise CommandError(f"invalid channel: {_as_options(exc)}") from None
        channel = saved.record
        self.stdout.write(
            f"{'Created' if saved.created else 'Updated'} Khaos channel {channel.slug!r}: "
            f"user {channel.username!r}, format {channel.format}, "
            f"default URN {channel.default_urn or '(none)'}, site {channel.site_id}, "
            f"sales source {channel.sales_source or '(none)'}, "
            f"company class {channel.company_class_id or '(none)'}, "
            f"order link {channel.source_reference_key}, "
            f"configuration file /khaos/{channel.slug}/config"
        )


def _as_options(error: SettingsInvalid) -> str:
    """The service's messages under the command's option names (``--site-id …``)."""
    names = {"company_class_id": "company_class"}
    return "; ".join(
        f"--{names.get(name, name).replace('_', '-')} {' '.join(messages)}"
        if name != "__all__"
        else " ".join(messages)
        for name, messages in error.errors.items()
    )
