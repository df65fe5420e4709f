"""/connections/: the platform connections and the Khaos channel, for the data team.

Reading needs ``view_platformconnection`` (and ``view_khaoschannel`` for the channels);
changing a connection or sending it a test event needs ``change_platformconnection``, and
changing the channel ``change_khaoschannel``, as in the admin. Every change goes through
``returns_hub.services.connections``, the same service as ``set_connection`` and
``set_khaos_channel``. Secrets are never shown back: masked in lists, write-only in forms.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from returns_hub.choices import InboxSource
from returns_hub.models import InboxDelivery, KhaosChannel, PlatformConnection
from returns_hub.screens.connections.filtersets import ConnectionListFilterSet
from returns_hub.screens.connections.forms import ChannelSettingsForm, ConnectionSettingsForm
from returns_hub.screens.connections.tables import ChannelTable, ConnectionTable
from returns_hub.screens.connections.test_event import send_test_event
from returns_hub.screens.lists import keyset_page, query_with, render_list
from returns_hub.services import connections as service
from returns_hub.services.connections import SettingsInvalid

VIEW_CONNECTIONS = "returns_hub.view_platformconnection"
CHANGE_CONNECTIONS = "returns_hub.change_platformconnection"
VIEW_CHANNELS = "returns_hub.view_khaoschannel"
CHANGE_CHANNELS = "returns_hub.change_khaoschannel"


def _last_webhook():
    # The newest webhook delivery of each connection, read from (connection, -id).
    newest = InboxDelivery.objects.filter(connection=OuterRef("pk"), source=InboxSource.WEBHOOK)
    return Subquery(newest.order_by("-id").values("received_at")[:1])


def webhook_url(request, connection) -> str:
    return request.build_absolute_uri(
        reverse("webhook", args=[connection.platform, connection.slug])
    )


def config_url(request, channel) -> str:
    return request.build_absolute_uri(f"/khaos/{channel.slug}/config")


@permission_required(VIEW_CONNECTIONS, raise_exception=True)
def index(request):
    filterset = ConnectionListFilterSet(request.GET, queryset=PlatformConnection.objects.all())
    status = 200
    rows, next_after = [], None
    if filterset.is_valid():
        queryset = filterset.qs.annotate(last_webhook_at=_last_webhook())
        rows, next_after = keyset_page(queryset, "slug", request.GET.get("after"))
    else:
        status = 400
    for row in rows:
        row.webhook_url = webhook_url(request, row)
    can_change = request.user.has_perm(CHANGE_CONNECTIONS)
    table = ConnectionTable(rows, can_change=can_change)

    channels, channels_next = [], ""
    if request.user.has_perm(VIEW_CHANNELS):
        channels, after = keyset_page(
            KhaosChannel.objects.all(), "slug", request.GET.get("channel_after")
        )
        channels_next = query_with(request, channel_after=after) if after else ""
        for channel in channels:
            channel.config_url = config_url(request, channel)
    return render_list(
        request,
        filterset=filterset,
        table=table,
        title="Connections",
        intro="Each platform account the hub listens to and the Khaos channel it posts to. "
        "Secrets are shown masked; replace one on the connection's page.",
        next_after=next_after,
        status=status,
        template="returns_hub/connections/index.html",
        extra={
            "channel_table": ChannelTable(channels)
            if request.user.has_perm(VIEW_CHANNELS)
            else None,
            "channels_next_url": channels_next,
        },
    )


@permission_required(VIEW_CONNECTIONS, raise_exception=True)
@require_http_methods(["GET", "POST"])
def connection_settings(request, slug):
    connection = get_object_or_404(
        PlatformConnection.objects.select_related("khaos_channel"), slug=slug
    )
    can_change = request.user.has_perm(CHANGE_CONNECTIONS)
    status = 200
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = ConnectionSettingsForm.for_connection(connection, data=request.POST)
        if form.is_valid():
            try:
                service.save_connection(connection.platform, connection.slug, **form.changes())
            except SettingsInvalid as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"Saved the settings of {connection.slug}.")
                return redirect("connections:connection", slug=connection.slug)
        status = 400
    else:
        form = ConnectionSettingsForm.for_connection(connection)
    return render(
        request,
        "returns_hub/connections/connection.html",
        {
            "title": f"Connection {connection.slug}",
            "connection": connection,
            "form": form,
            "can_change": can_change,
            "webhook_url": webhook_url(request, connection),
        },
        status=status,
    )


@permission_required(CHANGE_CONNECTIONS, raise_exception=True)
@require_POST
def test_event(request, slug):
    connection = get_object_or_404(PlatformConnection, slug=slug)
    result = send_test_event(connection, webhook_url(request, connection))
    context = {"connection": connection, "result": result}
    if request.headers.get("HX-Request"):
        return render(request, "returns_hub/connections/test_event_result.html", context)
    return render(request, "returns_hub/connections/test_event_page.html", context)


@permission_required(VIEW_CHANNELS, raise_exception=True)
@require_http_methods(["GET", "POST"])
def channel_settings(request, slug):
    channel = get_object_or_404(KhaosChannel, slug=slug)
    can_change = request.user.has_perm(CHANGE_CHANNELS)
    status = 200
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        form = ChannelSettingsForm.for_channel(channel, data=request.POST)
        if form.is_valid():
            try:
                service.save_channel(channel.slug, **form.changes())
            except SettingsInvalid as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request, f"Saved the settings of the Khaos channel {channel.slug}."
                )
                return redirect("connections:channel", slug=channel.slug)
        status = 400
    else:
        form = ChannelSettingsForm.for_channel(channel)
    return render(
        request,
        "returns_hub/connections/channel.html",
        {
            "title": f"Khaos channel {channel.slug}",
            "channel": channel,
            "form": form,
            "can_change": can_change,
            "config_url": config_url(request, channel),
        },
        status=status,
    )


def _add_errors(form, error: SettingsInvalid) -> None:
    """The service's refusals on the fields they are about (or the form's top)."""
    renamed = {
        "company_class_id": "company_class",
        "khaos_channel": "channel",
        "webhook_secret": "new_webhook_secret",
        "api_key": "new_api_key",
        "password": "new_password",
    }
    for name, messages_ in error.errors.items():
        field = renamed.get(name, name)
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)
