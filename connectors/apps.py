from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Platform connectors"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_migrate, post_save

        from connectors import registry, schedules
        from returns_hub.models import PlatformConnection

        registry.load()
        post_migrate.connect(_register_schedules, sender=self)
        # A connection's poll schedule follows the connection, however it was changed.
        post_save.connect(_sync_polls, sender=PlatformConnection, dispatch_uid="sync-polls")
        post_delete.connect(_sync_polls, sender=PlatformConnection, dispatch_uid="sync-polls-del")
        from connectors.webhooks import forget_connections

        post_save.connect(forget_connections, sender=PlatformConnection, dispatch_uid="forget")
        post_delete.connect(forget_connections, sender=PlatformConnection, dispatch_uid="forget-d")
        del schedules


def _register_schedules(sender, **kwargs) -> None:
    from connectors import schedules

    schedules.register()
    schedules.sync_polls()


def _sync_polls(sender, **kwargs) -> None:
    from connectors import schedules

    schedules.sync_polls()
