"""API tokens (issue 19): users and managers manage their own (Wagtail's ``APIToken``; the view
keeps each to their own tokens)."""

import importlib

from django.db import migrations

grants = importlib.import_module("mailings.migrations._grants")


def grant_tokens(apps, schema_editor):
    for group in ("Users", "Managers"):
        grants.grant_users(apps, "apitoken", app_label="wagtailcore", group=group)


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0018_audiences"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(grant_tokens, migrations.RunPython.noop)]
