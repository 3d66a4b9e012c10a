"""Audiences (issue 18): lists of clients, a mailing's lists, sign-ups through a list's
form, and bounces. A list's clients and a mailing's lists belong to the list's owner: enforced
by triggers, as 0002 does for a mailing's clients. SQLite rebuilds ``mailings_client``: the
triggers of 0002 are dropped around the rebuild, as in 0010."""

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

# (table, the row it links, the list column): both sides must have one owner.
LINKS = (
    ("mailings_membership", "mailings_client", "client_id", "client_list_id"),
    ("mailings_mailing_lists", "mailings_mailing", "mailing_id", "clientlist_id"),
)


def link_statements(vendor: str) -> tuple[list[str], list[str]]:
    forward, backward = [], []
    for table, other, column, list_column in LINKS:
        differ = (
            f"(SELECT owner_id FROM {other} WHERE id = NEW.{column}) IS DISTINCT FROM "  # noqa: S608
            f"(SELECT owner_id FROM mailings_clientlist WHERE id = NEW.{list_column})"
        )
        if vendor == "sqlite":
            for when in ("INSERT", "UPDATE"):
                name = f"{table}_owner_{when.lower()}"
                forward.append(
                    f"CREATE TRIGGER {name} BEFORE {when} ON {table} "
                    f"WHEN {differ.replace('IS DISTINCT FROM', 'IS NOT')} "
                    "BEGIN SELECT RAISE(ABORT, 'list and its rows belong to different owners'); "
                    "END"
                )
                backward.append(f"DROP TRIGGER IF EXISTS {name}")
        else:
            function = f"{table}_check_owner"
            forward += [
                f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF {differ} THEN "
                "RAISE EXCEPTION 'list and its rows belong to different owners' "
                "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END $$",
                f"CREATE TRIGGER {table}_owner BEFORE INSERT OR UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()",
            ]
            backward += [
                f"DROP TRIGGER IF EXISTS {table}_owner ON {table}",
                f"DROP FUNCTION IF EXISTS {function}()",
            ]
    return forward, backward


def link_triggers(direction: int):
    def apply(apps, schema_editor):
        for statement in link_statements(schema_editor.connection.vendor)[direction]:
            schema_editor.execute(statement, params=None)

    return apply


def grant_lists(apps, schema_editor):
    """Users keep their own lists (the policy keeps them to their own rows)."""
    grants.grant_users(apps, "clientlist")


class Migration(migrations.Migration):
    dependencies = [
        ("mailings", "0017_senders"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_BACKWARD), sqlite_triggers(triggers.SQLITE_FORWARD)
        ),
        migrations.AddField(
            model_name="client",
            name="bounce_reason",
            field=models.CharField(
                blank=True, db_default="", editable=False, max_length=500, verbose_name="bounce"
            ),
        ),
        migrations.AddField(
            model_name="client",
            name="bounced_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="bounced at"
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="bounce",
            field=models.CharField(
                blank=True,
                db_default="",
                choices=[("hard", "hard"), ("soft", "soft")],
                max_length=4,
                verbose_name="bounce",
            ),
        ),
        migrations.AlterField(
            model_name="mailing",
            name="clients",
            field=models.ManyToManyField(
                blank=True, related_name="mailings", to="mailings.client", verbose_name="clients"
            ),
        ),
        migrations.CreateModel(
            name="ClientList",
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
                        max_length=200,
                        validators=[mailings.models.validate_single_line_name],
                        verbose_name="name",
                    ),
                ),
                (
                    "description",
                    models.TextField(
                        blank=True,
                        help_text="Shown on the subscription form: what subscribers will get, how often.",
                        verbose_name="description",
                    ),
                ),
                (
                    "token",
                    models.CharField(
                        default=mailings.models.new_list_token,
                        editable=False,
                        max_length=32,
                        unique=True,
                        verbose_name="form token",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="client_lists",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "list",
                "verbose_name_plural": "lists",
                "ordering": ["name", "pk"],
            },
        ),
        migrations.AddField(
            model_name="mailing",
            name="lists",
            field=models.ManyToManyField(
                blank=True, related_name="mailings", to="mailings.clientlist", verbose_name="lists"
            ),
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("admin", "Added in the admin"),
                            ("import", "Imported"),
                            ("form", "Subscription form"),
                            ("api", "API"),
                        ],
                        default="admin",
                        max_length=10,
                        verbose_name="source",
                    ),
                ),
                ("added_at", models.DateTimeField(auto_now_add=True, verbose_name="added at")),
                (
                    "client",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="mailings.client",
                        verbose_name="client",
                    ),
                ),
                (
                    "client_list",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="mailings.clientlist",
                        verbose_name="list",
                    ),
                ),
            ],
            options={
                "verbose_name": "list membership",
                "verbose_name_plural": "list memberships",
            },
        ),
        migrations.AddField(
            model_name="client",
            name="lists",
            field=models.ManyToManyField(
                blank=True,
                related_name="clients",
                through="mailings.Membership",
                to="mailings.clientlist",
                verbose_name="lists",
            ),
        ),
        migrations.CreateModel(
            name="Subscription",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("email", models.EmailField(max_length=254, verbose_name="e-mail address")),
                ("full_name", models.CharField(max_length=255, verbose_name="full name")),
                ("language", models.CharField(blank=True, max_length=10, verbose_name="language")),
                (
                    "created_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="signed up at"),
                ),
                (
                    "ip",
                    models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
                ),
                (
                    "user_agent",
                    models.CharField(blank=True, max_length=300, verbose_name="browser"),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed at"),
                ),
                (
                    "confirmed_ip",
                    models.GenericIPAddressField(
                        blank=True, null=True, verbose_name="confirmed from"
                    ),
                ),
                (
                    "client_list",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="subscriptions",
                        to="mailings.clientlist",
                        verbose_name="list",
                    ),
                ),
            ],
            options={
                "verbose_name": "subscription",
                "verbose_name_plural": "subscriptions",
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.AddConstraint(
            model_name="clientlist",
            constraint=models.UniqueConstraint(
                models.F("owner"),
                django.db.models.functions.text.Lower("name"),
                name="mailings_clientlist_unique_name_per_owner",
                violation_error_message="You already have a list with this name.",
            ),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(fields=["client", "client_list"], name="mailings_membership_client"),
        ),
        migrations.AddConstraint(
            model_name="membership",
            constraint=models.UniqueConstraint(
                fields=("client_list", "client"), name="mailings_membership_once_per_list"
            ),
        ),
        migrations.AddIndex(
            model_name="subscription",
            index=models.Index(fields=["client_list", "email"], name="mailings_subscription_list"),
        ),
        migrations.RunPython(
            sqlite_triggers(triggers.SQLITE_FORWARD), sqlite_triggers(triggers.SQLITE_BACKWARD)
        ),
        migrations.RunPython(link_triggers(0), link_triggers(1)),
        migrations.RunPython(grant_lists, migrations.RunPython.noop),
    ]
