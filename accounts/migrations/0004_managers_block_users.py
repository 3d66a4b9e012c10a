"""Managers may block and unblock users (DESIGN.md §7)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    block = Permission.objects.get(content_type__app_label="accounts", codename="block_user")
    Group.objects.get(name="Managers").permissions.add(block)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    block = Permission.objects.filter(content_type__app_label="accounts", codename="block_user")
    Group.objects.get(name="Managers").permissions.remove(*block)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_confirmation_and_blocking")]

    operations = [migrations.RunPython(grant, revoke)]
