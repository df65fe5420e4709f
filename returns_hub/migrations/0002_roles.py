"""The four teams as groups, with the permission matrix in returns_hub.roles."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_groups(apps, schema_editor):
    # Permissions are normally made after all migrations (post_migrate); make
    # them now so the groups can be given theirs on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    from returns_hub import roles

    roles.sync(apps, strict=False)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["finance", "warehouse", "cx", "data"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("returns_hub", "0001_initial"),
        ("reconciliation", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
