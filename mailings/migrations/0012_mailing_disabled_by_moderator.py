"""Who switched a mailing off decides who may switch it on (``permissions.py``): a mark for
"a moderator did". Mailings switched off before this are taken as their owner's doing.

SQLite adds the column by rebuilding the table: the ownership triggers are dropped around
the rebuild, as in 0010."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")
sqlite_triggers = importlib.import_module(
    "mailings.migrations.0010_mailing_time_zone"
).sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("mailings", "0011_mailing_dates_in_range")]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="mailing",
            name="disabled_by_moderator",
            field=models.BooleanField(
                default=False, editable=False, verbose_name="disabled by a moderator"
            ),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
    ]
