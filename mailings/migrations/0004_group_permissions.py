"""Model permissions of the two roles (DESIGN.md §7). Object-level rules (own rows only for
Users) are the permission policy's job; these say which kinds of objects a role may touch."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

USERS = {
    "client": ("add", "change", "delete", "view"),
    "message": ("add", "change", "delete", "view"),
    "mailing": ("add", "change", "delete", "view"),
    "attempt": ("view",),
    "delivery": ("view",),
}
# Managers see clients and messages only as part of a mailing they inspect, so they get no
# Clients or Messages menus: browsing every user's address book is not moderation.
MANAGERS = {
    "mailing": ("view", "moderate"),
    "attempt": ("view",),
    "delivery": ("view",),
}


def grant(apps, schema_editor):
    # Permissions of new models are normally created after `migrate`; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    for group_name, table in (("Users", USERS), ("Managers", MANAGERS)):
        group, _ = Group.objects.get_or_create(name=group_name)
        for model, actions in table.items():
            codenames = [f"{action}_{model}" for action in actions]
            permissions = Permission.objects.filter(
                content_type__app_label="mailings", codename__in=codenames
            )
            assert permissions.count() == len(codenames), (model, codenames)
            group.permissions.add(*permissions)
        # Wagtail's own migrations give every existing group the image and document
        # choosers; these roles work with mailings only.
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label__in=("wagtailimages", "wagtaildocs"),
                codename__in=("choose_image", "choose_document"),
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    mailing_permissions = Permission.objects.filter(content_type__app_label="mailings")
    for group in Group.objects.filter(name__in=("Users", "Managers")):
        group.permissions.remove(*mailing_permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0003_mailing_moderate_permission"),
        ("accounts", "0002_groups"),
        ("wagtailimages", "0023_add_choose_permissions"),
        ("wagtaildocs", "0011_add_choose_permissions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
