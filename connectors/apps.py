from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Platform connectors"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from connectors import registry
        from returns_hub.models import PlatformConnection

        registry.load()
        # This app has no models, so it is sent no post_migrate: its schedules are
        # registered with every other by returns_hub.schedules.register_all.
        # A connection's poll schedule follows the connection, however it was changed.
        post_save.connect(_sync_polls, sender=PlatformConnection, dispatch_uid="sync-polls")
        post_delete.connect(_sync_polls, sender=PlatformConnection, dispatch_uid="sync-polls-del")
        from connectors.webhooks import forget_connections

        post_save.connect(forget_connections, sender=PlatformConnection, dispatch_uid="forget")
        post_delete.connect(forget_connections, sender=PlatformConnection, dispatch_uid="forget-d")


def _sync_polls(sender, **kwargs) -> None:
    from connectors import schedules

    schedules.sync_polls()
