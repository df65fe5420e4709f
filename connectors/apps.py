from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Platform connectors"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from connectors import registry, schedules

        registry.load()
        post_migrate.connect(_register_schedules, sender=self)
        del schedules


def _register_schedules(sender, **kwargs) -> None:
    from connectors import schedules

    schedules.register()
