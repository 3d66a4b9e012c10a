"""Wagtail's stock groups "Editors" and "Moderators" sit beside "Users" and "Managers" in the
role choice and were taken for mailing roles (issue 16, item 18). They are about the public
site's pages, so their names say so."""

from django.db import migrations

RENAMED = {"Editors": "Site editors", "Moderators": "Site moderators"}


def rename(apps, schema_editor, names):
    Group = apps.get_model("auth.Group")
    for old, new in names.items():
        if not Group.objects.filter(name=new).exists():
            Group.objects.filter(name=old).update(name=new)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_managers_block_users"),
        ("wagtailcore", "0002_initial_data"),
    ]

    operations = [
        migrations.RunPython(
            lambda apps, editor: rename(apps, editor, RENAMED),
            lambda apps, editor: rename(apps, editor, {v: k for k, v in RENAMED.items()}),
        )
    ]
