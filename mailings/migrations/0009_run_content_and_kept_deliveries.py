"""A run keeps what it sends (subject and body, fixed when it starts), and a delivery outlives
its client (the ledger keeps the address and the outcome). Runs that exist already get their
message's current text: the best record there is of what they sent."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fix_content_of_existing_runs(apps, schema_editor):
    Attempt = apps.get_model("mailings", "Attempt")
    Message = apps.get_model("mailings", "Message")
    message = Message.objects.filter(mailings__attempts=OuterRef("pk"))
    Attempt.objects.update(
        subject=Subquery(message.values("subject")[:1]),
        body=Subquery(message.values("body")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [("mailings", "0008_available_at")]

    operations = [
        migrations.AddField(
            model_name="attempt",
            name="subject",
            field=models.CharField(blank=True, max_length=255, verbose_name="subject"),
        ),
        migrations.AddField(
            model_name="attempt",
            name="body",
            field=models.TextField(blank=True, verbose_name="body"),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="client",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="deliveries",
                to="mailings.client",
                verbose_name="client",
            ),
        ),
        migrations.RunPython(fix_content_of_existing_runs, migrations.RunPython.noop),
    ]
