"""Set-based writes the ORM makes slow: many rows, each with its own values, in one statement.

Django's ``bulk_update`` builds a ``CASE WHEN`` per field and row; for a batch of results the
expression tree cost more than the SMTP conversation it records (docs/benchmarks.md).
``update_rows`` sends one ``UPDATE … FROM`` instead, and ``insert_rows`` one ``INSERT … ON
CONFLICT DO NOTHING RETURNING``, which, unlike ``bulk_create(ignore_conflicts=True)``, tells
which rows were new. On PostgreSQL each column travels as one array parameter (``unnest``), so
the statement's text, and its parsing, does not grow with the rows; SQLite (3.35 or later)
gets a ``VALUES`` list.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.utils import timezone

BATCH = 400  # rows per statement on SQLite: a few thousand parameters at most

# Table and column names in these statements come from the models; every value is a parameter.


def update_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    only_if: dict[str, object] | None = None,
    returning: str | None = None,
) -> list:
    """Set ``fields`` of each row's object: every row is ``(pk, value, value, …)``. Rows
    whose object does not match ``only_if`` (column = value) are left alone. Returns the
    ``returning`` column of every row written."""
    if not rows:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    targets = [meta.pk, *(meta.get_field(name) for name in fields)]
    columns = [[row[0] for row in rows]]
    for i, field in enumerate(targets[1:], start=1):
        columns.append([field.get_db_prep_save(row[i], connection) for row in rows])
    checks = [(meta.get_field(name), value) for name, value in (only_if or {}).items()]
    if connection.vendor == "postgresql":
        # The checked values travel as columns of the source, not as constants in WHERE: a
        # constant lets the planner scan an index on that column for every row with the
        # value (all pending deliveries of every run, when the statistics are stale) instead
        # of looking up the given primary keys.
        source = _pg_unnest(targets, [f for f, _ in checks])
        assign = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(targets) if i)
        where = " AND ".join(
            [
                f"t.{quote(meta.pk.column)} = v.c0",
                *(f"t.{quote(f.column)} = v.w{i}" for i, (f, _) in enumerate(checks)),
            ]
        )
        sql = f"UPDATE {quote(meta.db_table)} AS t SET {assign} FROM {source} WHERE {where}"  # noqa: S608
        if returning:
            sql += f" RETURNING t.{quote(meta.get_field(returning).column)}"
        check_params = [f.get_db_prep_value(value, connection) for f, value in checks]
        return _run(sql, [*columns, *check_params], bool(returning))
    conditions = [f"t.{quote(f.column)} = %s" for f, _ in checks]
    condition_params = [value for _, value in checks]
    out: list = []
    for start in range(0, len(rows), BATCH):  # SQLite names VALUES columns column1, column2, …
        part = [column[start : start + BATCH] for column in columns]
        values = _sqlite_values(len(part[0]), len(targets))
        assign = ", ".join(
            f"{quote(f.column)} = v.column{i + 1}" for i, f in enumerate(targets) if i
        )
        where = " AND ".join([f"t.{quote(meta.pk.column)} = v.column1", *conditions])
        sql = f"UPDATE {quote(meta.db_table)} AS t SET {assign} FROM ({values}) AS v WHERE {where}"  # noqa: S608
        if returning:  # SQLite: the table's own name, no alias, in RETURNING
            sql += f" RETURNING {quote(meta.get_field(returning).column)}"
        params = [value for row in zip(*part, strict=True) for value in row]
        out += _run(sql, [*params, *condition_params], bool(returning))
    return out


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    values: dict[str, object] | None = None,
    returning: str = "pk",
) -> list:
    """Insert one object per row (``fields`` in order), the other columns from ``values``
    or the field's default, skipping any row that would break a unique constraint. Returns
    the ``returning`` column of the rows that were new. Shared values are prepared once."""
    if not rows:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    given = [meta.get_field(name) for name in fields]
    shared = [f for f in meta.concrete_fields if not f.primary_key and f.name not in fields]
    values = values or {}
    now = timezone.now()
    shared_params = []
    for field in shared:
        if field.name in values:
            value = values[field.name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        shared_params.append(field.get_db_prep_save(value, connection))
    columns = [
        [f.get_db_prep_save(row[i], connection) for row in rows] for i, f in enumerate(given)
    ]
    names = ", ".join(quote(f.column) for f in [*given, *shared])
    returned = quote((meta.pk if returning == "pk" else meta.get_field(returning)).column)
    table = quote(meta.db_table)
    if connection.vendor == "postgresql":
        constants = ", ".join(f"%s::{f.db_type(connection)}" for f in shared)
        select = ", ".join([*(f"v.c{i}" for i in range(len(given))), constants])
        sql = (
            f"INSERT INTO {table} ({names}) SELECT {select} FROM {_pg_unnest(given)} "  # noqa: S608
            f"ON CONFLICT DO NOTHING RETURNING {returned}"
        )
        return _run(sql, [*shared_params, *columns], True)  # in the order of the text
    out: list = []
    width = len(given) + len(shared)
    for start in range(0, len(rows), BATCH):
        part = [column[start : start + BATCH] for column in columns]
        params = [v for row in zip(*part, strict=True) for v in (*row, *shared_params)]
        sql = (
            f"INSERT INTO {table} ({names}) {_sqlite_values(len(part[0]), width)} "
            f"ON CONFLICT DO NOTHING RETURNING {returned}"
        )
        out += _run(sql, params, True)
    return out


def _pg_unnest(fields, constants=()) -> str:
    """``(SELECT unnest(%s::type[]) AS c0, …, %s::type AS w0, …) AS v``: one array parameter
    per column, then one parameter per constant column."""
    columns = [
        *(f"unnest(%s::{f.db_type(connection)}[]) AS c{i}" for i, f in enumerate(fields)),
        *(f"%s::{f.db_type(connection)} AS w{i}" for i, f in enumerate(constants)),
    ]
    return f"(SELECT {', '.join(columns)}) AS v"


def _sqlite_values(rows: int, width: int) -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return "VALUES " + ", ".join([row] * rows)


def _run(sql: str, params: list, returning: bool) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()] if returning else []
