"""Mailings get a name of their own (issue 16, item 10). Existing ones are named after their
message's subject, which is what they showed until now. SQLite adds the column by
rebuilding the table: the ownership triggers are dropped around the rebuild, as in 0010."""

import importlib

from django.db import migrations, models

import mailings.models

triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")
sqlite_triggers = importlib.import_module(
    "mailings.migrations.0010_mailing_time_zone"
).sqlite_triggers


def name_after_subject(apps, schema_editor):
    Mailing = apps.get_model("mailings", "Mailing")
    for mailing in Mailing.objects.select_related("message").only("pk", "message__subject"):
        Mailing.objects.filter(pk=mailing.pk).update(name=mailing.message.subject[:200])


class Migration(migrations.Migration):
    dependencies = [("mailings", "0013_no_collection_choosers")]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="mailing",
            name="name",
            field=models.CharField(
                default="",
                help_text="For your lists only, e.g. “Weekly offers, spring”; readers never see it.",
                max_length=200,
                validators=[mailings.models.validate_single_line_name],
                verbose_name="name",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
        migrations.RunPython(name_after_subject, migrations.RunPython.noop, elidable=True),
    ]
