"""The connections and Khaos channels as django-tables2 tables.

Rows come one keyset page at a time (the view pages them), so the tables neither sort nor
paginate. A secret is only ever shown masked (the last four characters at most); the Khaos
password is kept as a hash and shown only as set or not.
"""

from __future__ import annotations

import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from returns_hub import platforms

TEST_EVENT_FORM = "returns_hub/connections/test_event_form.html"


def platform_label(slug: str) -> str:
    try:
        return platforms.get(slug).label
    except LookupError:
        return slug


def when(value) -> str:
    return "never" if value is None else value.strftime("%-d %b %Y %H:%M")


class HubTable(tables.Table):
    # django-tables2 reads only a table's own Meta: each table subclasses this one.
    class Meta:
        orderable = False
        template_name = "django_tables2/table.html"
        attrs = {"class": "report connections"}
        empty_text = "Nothing matches these filters."


class ConnectionTable(HubTable):
    class Meta(HubTable.Meta):
        pass

    platform = tables.Column()
    slug = tables.Column(verbose_name="Connection")
    enabled = tables.Column()
    posting_policy = tables.Column(verbose_name="Posting policy")
    currency = tables.Column()
    time_zone = tables.Column(verbose_name="Time zone")
    last_webhook_at = tables.Column(verbose_name="Last webhook", empty_values=())
    last_polled_at = tables.Column(verbose_name="Last poll", empty_values=())
    webhook_url = tables.Column(verbose_name="Webhook URL to give the platform")
    webhook_secret_masked = tables.Column(verbose_name="Webhook secret", empty_values=())
    api_key_masked = tables.Column(verbose_name="API key", empty_values=())
    test_event = tables.TemplateColumn(
        template_name=TEST_EVENT_FORM, verbose_name="Test", empty_values=(), accessor="pk"
    )

    def __init__(self, data, *, can_change: bool, **kwargs):
        exclude = [] if can_change else ["test_event"]
        super().__init__(data, exclude=exclude, **kwargs)

    def render_platform(self, value):
        return platform_label(value)

    def render_slug(self, record):
        url = reverse("connections:connection", args=[record.slug])
        return format_html('<a href="{}">{}</a>', url, record.slug)

    def render_enabled(self, value):
        css, text = ("good", "Enabled") if value else ("bad", "Disabled")
        return format_html('<span class="{}">{}</span>', css, text)

    def render_posting_policy(self, record):
        return record.get_posting_policy_display()

    def render_last_webhook_at(self, value):
        return when(value)

    def render_last_polled_at(self, record):
        if record.poll_failing_since:
            return format_html(
                '<span class="bad">failing since {}</span>', when(record.poll_failing_since)
            )
        return when(record.last_polled_at)

    def render_webhook_url(self, value):
        return format_html("<code>{}</code>", value)

    def render_webhook_secret_masked(self, value):
        return value or "not set"

    def render_api_key_masked(self, value):
        return value or "not set"


class ChannelTable(HubTable):
    class Meta(HubTable.Meta):
        attrs = {"class": "report channels"}

    slug = tables.Column(verbose_name="Channel")
    username = tables.Column(verbose_name="User name")
    password_hash = tables.Column(verbose_name="Password", empty_values=())
    format = tables.Column()
    default_urn = tables.Column(verbose_name="Default URN", empty_values=())
    site_id = tables.Column(verbose_name="Site")
    sales_source = tables.Column(verbose_name="Sales source", empty_values=())
    company_class_id = tables.Column(verbose_name="Company class", empty_values=())
    config_url = tables.Column(verbose_name="Configuration file for Khaos")

    def render_slug(self, record):
        url = reverse("connections:channel", args=[record.slug])
        return format_html('<a href="{}">{}</a>', url, record.slug)

    def render_password_hash(self, value):
        # Only a hash is stored, and even that is never shown.
        return "set (kept as a hash)" if value else "not set"

    def render_default_urn(self, value):
        return value or "none"

    def render_sales_source(self, value):
        return value or format_html('<span class="bad">{}</span>', "none: exchanges held")

    def render_company_class_id(self, value):
        return value or format_html('<span class="bad">{}</span>', "none: exchanges held")

    def render_config_url(self, value):
        return format_html("<code>{}</code>", value)
