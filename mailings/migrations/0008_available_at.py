"""``lease_until`` meant both "owned by a worker until" and "not to be tried before": one
column, one meaning, "may be handed out from" (docs/sending.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("mailings", "0007_delivery_queue_index")]

    operations = [
        migrations.RemoveIndex(model_name="attempt", name="mailings_attempt_open_idx"),
        migrations.RenameField("attempt", "lease_until", "available_at"),
        migrations.RenameField("delivery", "lease_until", "available_at"),
        migrations.AlterField(
            model_name="attempt",
            name="available_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="available at"),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="available_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="available at"),
        ),
        migrations.AddIndex(
            model_name="attempt",
            index=models.Index(
                condition=models.Q(("status", "in_progress")),
                fields=["available_at"],
                name="mailings_attempt_open_idx",
            ),
        ),
    ]
