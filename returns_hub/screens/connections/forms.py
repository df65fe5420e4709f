"""The settings forms. They only read and shape input: the service validates and saves,
exactly as for ``set_connection`` and ``set_khaos_channel``.

A secret field is write-only: it is never filled in, and left blank it keeps the stored
secret (the page shows the stored one masked beside it).
"""

from __future__ import annotations

from django import forms

from returns_hub.choices import KhaosFormat, PostingPolicy, SourceReferenceKey
from returns_hub.models import KhaosChannel
from returns_hub.services.connections import UNCHANGED


class SecretField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Write-only. Leave blank to keep the stored one.")
        super().__init__(
            required=False,
            strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            **kwargs,
        )


class ConnectionSettingsForm(forms.Form):
    enabled = forms.BooleanField(required=False, help_text="Unticked: webhooks are refused (404).")
    name = forms.CharField(required=False, max_length=100)
    posting_policy = forms.ChoiceField(choices=PostingPolicy.choices)
    value_tolerance = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        label="Value tolerance",
        help_text="Largest settlement difference accepted without finance; "
        "blank: the hub's default.",
    )
    settlement_wait_hours = forms.IntegerField(
        required=False,
        min_value=0,
        label="Settlement wait (hours)",
        help_text="How long a graded return waits for the refund; 0 posts on the grade; "
        "blank: the platform's default.",
    )
    units_not_arrived_days = forms.IntegerField(min_value=1, label="Units not arrived after (days)")
    poll_minutes = forms.IntegerField(
        min_value=0, label="Poll every (minutes)", help_text="0 is off."
    )
    base_url = forms.URLField(required=False, label="API base URL", assume_scheme="https")
    # Length and form are checked by the service, with the command's message.
    currency = forms.CharField(help_text="Where the platform sends none, e.g. GBP.")
    time_zone = forms.CharField(max_length=64, help_text="For the platform's times without a zone.")
    credit_refunded_shipping = forms.BooleanField(
        required=False, label="Count refunded shipping in the expected credit"
    )
    credit_handling_fee = forms.BooleanField(
        required=False, label="Deduct the platform's handling fee from the expected credit"
    )
    channel = forms.ModelChoiceField(
        queryset=KhaosChannel.objects.all(),
        to_field_name="slug",
        required=False,
        label="Khaos channel",
        empty_label="(keep)",
    )
    options = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text='The platform\'s options as JSON, e.g. {"auth": "hmac"}.',
    )
    new_webhook_secret = SecretField(label="Replace the webhook secret")
    new_api_key = SecretField(label="Replace the API key")

    GROUPS = {
        "Posting": [
            "enabled",
            "posting_policy",
            "value_tolerance",
            "settlement_wait_hours",
            "units_not_arrived_days",
            "credit_refunded_shipping",
            "credit_handling_fee",
            "channel",
        ],
        "Platform": ["name", "poll_minutes", "base_url", "currency", "time_zone", "options"],
        "Secrets": ["new_webhook_secret", "new_api_key"],
    }

    def groups(self) -> list[tuple[str, list]]:
        """Fieldsets for the page: (legend, bound fields)."""
        return [(legend, [self[name] for name in names]) for legend, names in self.GROUPS.items()]

    @classmethod
    def for_connection(cls, connection, data=None):
        initial = {
            name: getattr(connection, name)
            for name in (
                "enabled",
                "name",
                "posting_policy",
                "value_tolerance",
                "settlement_wait_hours",
                "units_not_arrived_days",
                "poll_minutes",
                "base_url",
                "currency",
                "time_zone",
                "credit_refunded_shipping",
                "credit_handling_fee",
            )
        }
        initial["channel"] = connection.khaos_channel
        initial["options"] = connection.options or {}
        return cls(data=data, initial=initial)

    def changes(self) -> dict:
        """The service's keyword arguments: every setting, secrets only when given."""
        data = dict(self.cleaned_data)
        channel = data.pop("channel")
        secret, key = data.pop("new_webhook_secret"), data.pop("new_api_key")
        return {
            **data,
            "options": data["options"] if data["options"] is not None else {},
            "channel": channel.slug if channel else UNCHANGED,
            "webhook_secret": secret or UNCHANGED,
            "api_key": key or UNCHANGED,
        }


class ChannelSettingsForm(forms.Form):
    name = forms.CharField(required=False, max_length=100)
    username = forms.CharField(max_length=150, label="User name Khaos signs in with")
    new_password = SecretField(label="Replace the password")
    format = forms.ChoiceField(choices=KhaosFormat.choices)
    default_urn = forms.CharField(
        required=False, max_length=20, label="Default URN", help_text="For unmapped customers."
    )
    site_id = forms.IntegerField(min_value=1, label="Site ID", help_text="For exchange orders.")
    sales_source = forms.CharField(required=False, max_length=50)
    company_class = forms.CharField(required=False, max_length=50)
    source_reference_key = forms.ChoiceField(
        choices=SourceReferenceKey.choices, label="Order link key"
    )
    download_frequency_minutes = forms.IntegerField(
        min_value=1, label="Khaos polls every (minutes)"
    )
    batch_size = forms.IntegerField(min_value=1, max_value=1000)
    confirmation_days = forms.IntegerField(
        min_value=0, help_text="Days a posting may wait for its credit note."
    )

    @classmethod
    def for_channel(cls, channel, data=None):
        names = [name for name in cls.base_fields if name not in ("new_password", "company_class")]
        initial = {name: getattr(channel, name) for name in names}
        initial["company_class"] = channel.company_class_id
        return cls(data=data, initial=initial)

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        password = data.pop("new_password")
        return {**data, "password": password or UNCHANGED}
