"""A mailing's dates stay where Python can read them back: from 2000 to 2100 on its own
clock, a day wider in UTC for the zones' offsets (schedule.EARLIEST, schedule.LATEST).

A row outside the range (a "forever" end at 9999-12-31 west of UTC became year 10000, which
no page could load) is brought inside first, in SQL that never loads it: a date past
the range becomes its last moment, one before it its first. The SQLite
ownership triggers are dropped around the table rebuild, as in 0010."""

import datetime
import importlib

from django.db import migrations, models

triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")
sqlite_triggers = importlib.import_module(
    "mailings.migrations.0010_mailing_time_zone"
).sqlite_triggers

EARLIEST = datetime.datetime(1999, 12, 31, tzinfo=datetime.UTC)
LATEST = datetime.datetime(2101, 1, 2, tzinfo=datetime.UTC)


def bring_into_range(apps, schema_editor):
    Mailing = apps.get_model("mailings", "Mailing")
    # In this order, each step keeps the end after the start.
    Mailing.objects.filter(end_at__lt=EARLIEST).update(end_at=LATEST)
    Mailing.objects.filter(start_at__gt=LATEST).update(start_at=EARLIEST)
    Mailing.objects.filter(end_at__gt=LATEST).update(end_at=LATEST)
    Mailing.objects.filter(start_at__lt=EARLIEST).update(start_at=EARLIEST)


class Migration(migrations.Migration):
    dependencies = [("mailings", "0010_mailing_time_zone")]

    operations = [
        migrations.RunPython(bring_into_range, migrations.RunPython.noop),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddConstraint(
            model_name="mailing",
            constraint=models.CheckConstraint(
                condition=models.Q(start_at__gte=EARLIEST, end_at__lte=LATEST),
                name="mailings_mailing_dates_in_range",
                violation_error_message="The dates must be from 2000 to 2100.",
            ),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
    ]
