from django.apps import AppConfig, apps


class ReturnsHubConfig(AppConfig):
    name = "returns_hub"
    verbose_name = "Returns hub"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from returns_hub import roles, signals

        signals.connect()

        # post_migrate is sent once per app, and each app's permissions are made
        # by its own sending; the matrix spans apps, so apply it after the last.
        last_app = list(apps.get_app_configs())[-1]
        post_migrate.connect(roles.sync_after_migrate, sender=last_app)
        post_migrate.connect(_register_schedules, sender=self)


def _register_schedules(sender, **kwargs) -> None:
    from returns_hub import schedules

    schedules.register()
