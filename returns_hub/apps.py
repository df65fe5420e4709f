import os

from django.apps import AppConfig, apps


class ReturnsHubConfig(AppConfig):
    name = "returns_hub"
    verbose_name = "Returns hub"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate
        from django_q.signals import post_spawn

        from returns_hub import roles, signals

        signals.connect()

        # post_migrate is sent once per app, and each app's permissions are made
        # by its own sending; the matrix spans apps, so apply it after the last.
        last_app = list(apps.get_app_configs())[-1]
        post_migrate.connect(roles.sync_after_migrate, sender=last_app)
        # Every schedule of every app (post_migrate never reaches an app without
        # models), after a migrate and as each cluster worker starts.
        post_migrate.connect(_register_after_migrate, sender=self, dispatch_uid="schedules")
        post_spawn.connect(_register_in_worker, dispatch_uid="schedules-spawn")
        _close_pools_before_fork()


def _register_after_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections
    from django_q.models import Schedule

    from returns_hub import schedules
    from returns_hub.models import PlatformConnection

    # Not after a migration back to before these tables existed.
    tables = set(connections[using].introspection.table_names())
    if {Schedule._meta.db_table, PlatformConnection._meta.db_table} <= tables:
        schedules.register_all()


def _register_in_worker(sender, **kwargs) -> None:
    from returns_hub import schedules

    # The connection is left to the worker, which closes it before each task.
    schedules.register_all()


_fork_hook = []


def _close_pools_before_fork() -> None:
    """A connection pool must not cross a fork: parent and child would share its
    sockets (and its threads would not exist in the child). The task cluster forks
    its workers, so each process closes its pools first and the child makes its own."""
    if _fork_hook:
        return
    _fork_hook.append(True)
    os.register_at_fork(before=_close_pools)


def _close_pools() -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper

    for alias, pool in list(DatabaseWrapper._connection_pools.items()):
        DatabaseWrapper._connection_pools.pop(alias, None)
        pool.close()
