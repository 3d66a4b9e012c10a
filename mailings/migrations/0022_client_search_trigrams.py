"""Trigram indexes for the client search on PostgreSQL (issue 25): a case-insensitive
"contains" over a million clients' addresses, names and comments read every row, twice (the
count and the page). With ``pg_trgm``, each column's ``UPPER(…) LIKE UPPER('%…%')``, the
expression Django writes for ``icontains``, is answered from a GIN index.

``CREATE EXTENSION`` needs a database role allowed to create it (the owner of the database
on PostgreSQL 13 and later, ``pg_trgm`` being a trusted extension). Where it is refused, the
migration says so and goes on without the indexes: the search still works, by reading the
table. SQLite has no such index; nothing is done there."""

import logging

from django.db import migrations, transaction

logger = logging.getLogger(__name__)

INDEXES = {
    "mailings_client_email_trgm": "UPPER(email::text)",
    "mailings_client_name_trgm": "UPPER(full_name::text)",
    "mailings_client_comment_trgm": "UPPER(comment)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as exc:  # noqa: BLE001 - any refusal: go on without the indexes
        logger.warning("pg_trgm not available (%s): client search works without its indexes", exc)
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON mailings_client "
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("mailings", "0021_listing_indexes")]

    operations = [migrations.RunPython(create, drop)]
