"""Each mailing keeps its hour in its own time zone. Mailings that exist already get the
site's zone (TIME_ZONE when the migration runs), so their behaviour does not change.

SQLite adds a NOT NULL column by rebuilding the table, and refuses to while the ownership
triggers of 0002 name it: they are dropped for the rebuild and created again after it (any
later change that rebuilds ``mailings_mailing`` on SQLite needs the same)."""

import importlib

from django.db import migrations, models

import mailings.models

triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")


def sqlite_triggers(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("mailings", "0009_run_content_and_kept_deliveries")]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="mailing",
            name="time_zone",
            field=models.CharField(
                default=mailings.models.default_time_zone,
                help_text=(
                    "The start and the end are times in this zone; the mailing keeps its hour "
                    "in it across daylight saving."
                ),
                max_length=64,
                validators=[mailings.models.validate_time_zone],
                verbose_name="time zone",
            ),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
    ]
