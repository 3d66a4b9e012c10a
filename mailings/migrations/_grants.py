"""Shared by data migrations (the loader skips modules whose name starts with "_"): give a
group (Users by default) a model's permissions, created first if the post-migrate signal has
not run."""

from django.contrib.auth.management import create_permissions


def grant_users(
    apps,
    model_name: str,
    actions=("add", "change", "delete", "view"),
    *,
    app_label: str = "mailings",
    group: str = "Users",
) -> None:
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth.Group")
    Permission = apps.get_model("auth.Permission")
    codenames = [f"{action}_{model_name}" for action in actions]
    permissions = Permission.objects.filter(
        content_type__app_label=app_label, codename__in=codenames
    )
    for found in Group.objects.filter(name=group):
        found.permissions.add(*permissions)
