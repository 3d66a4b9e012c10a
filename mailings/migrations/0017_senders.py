"""Senders (issue 17): a user's own From addresses, usable once confirmed; a mailing names
one, and a run keeps the From and Reply-To it started with. SQLite rebuilds the tables: the
ownership triggers are dropped around the rebuild, as in 0010."""

import importlib

import django.db.models.deletion
import django.db.models.functions.text
import mailings.models
from django.conf import settings
from django.db import migrations, models


grants = importlib.import_module("mailings.migrations._grants")
triggers = importlib.import_module("mailings.migrations.0002_ownership_triggers")
sqlite_triggers = importlib.import_module(
    "mailings.migrations.0010_mailing_time_zone"
).sqlite_triggers


def grant_senders(apps, schema_editor):
    """Users keep their own senders (the policy keeps them to their own rows)."""
    grants.grant_users(apps, "sender")


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0016_mail_images"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="attempt",
            name="sender_name",
            field=models.CharField(blank=True, max_length=100, verbose_name="sender's name"),
        ),
        migrations.AddField(
            model_name="attempt",
            name="sender_email",
            field=models.EmailField(blank=True, max_length=254, verbose_name="sender's address"),
        ),
        migrations.AddField(
            model_name="attempt",
            name="reply_to",
            field=models.EmailField(blank=True, max_length=254, verbose_name="reply-to address"),
        ),
        migrations.CreateModel(
            name="Sender",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "name",
                    models.CharField(
                        help_text="What readers see as the sender, e.g. “Anna’s Bakery”.",
                        max_length=100,
                        validators=[mailings.models.validate_single_line_name],
                        verbose_name="display name",
                    ),
                ),
                ("email", models.EmailField(max_length=254, verbose_name="address")),
                (
                    "reply_to",
                    models.EmailField(
                        blank=True,
                        help_text="Where replies go, if not to the address above.",
                        max_length=254,
                        verbose_name="reply-to address",
                    ),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="confirmed at"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="senders",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "sender",
                "verbose_name_plural": "senders",
                "ordering": ["name", "email", "pk"],
            },
        ),
        migrations.AddField(
            model_name="mailing",
            name="sender",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="mailings",
                to="mailings.sender",
                verbose_name="sender",
            ),
        ),
        migrations.AddConstraint(
            model_name="sender",
            constraint=models.UniqueConstraint(
                models.F("owner"),
                django.db.models.functions.text.Lower("email"),
                name="mailings_sender_unique_email_per_owner",
            ),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
        migrations.RunPython(grant_senders, migrations.RunPython.noop),
    ]
