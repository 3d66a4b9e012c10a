"""Every statement of the project written by hand, in one place, for the two databases it
runs on: PostgreSQL and SQLite (3.35 or later, checked at start-up: mailings/checks.py).
Any other database is refused with a clear error rather than handed SQL written for another.

Why by hand (each measured, docs/benchmarks.md):

- ``update_rows``: many rows, each with its own values, in one ``UPDATE … FROM``. Django's
  ``bulk_update`` builds a ``CASE WHEN`` per field and row; for a batch of results the
  expression tree cost more than the SMTP conversation it records.
- ``insert_rows``: ``INSERT … ON CONFLICT DO NOTHING RETURNING``, which, unlike
  ``bulk_create(ignore_conflicts=True)``, tells which rows were new.
- ``insert_deliveries``: a run's recipients in one ``INSERT … SELECT``: the list never
  travels through Python and the statement is all or nothing.
- ``claim_deliveries``: ``UPDATE … WHERE id IN (… FOR UPDATE SKIP LOCKED) RETURNING``: one
  round trip instead of select, update and load; ``renew_deliveries`` extends a claim and
  says in the same round trip which of its deliveries may still be sent (or only says it).
- ``increment_returning``: ``UPDATE … SET n = n + 1 … RETURNING n``: an atomic count and its
  new value in one statement; ``add_to_rows`` adds to many rows' counts in one.
- ``joined_ids``: a column of many rows as one comma-separated string, joined by the
  database: a mailing's 50,000 chosen clients reach the form as one value, not as 50,000
  rows whose allocation set the garbage collector walking the whole process, again and again.

On PostgreSQL each column of many rows travels as one array parameter (``unnest``), so the
statement's text, and its parsing, does not grow with the rows; SQLite gets a ``VALUES`` list.
The send loop's check and the ledger's write are prepared once per connection (``_cursor``).
Table and column names come from the models; every value is a parameter.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import EmptyResultSet
from django.db import NotSupportedError, connection, models
from django.db.backends.postgresql.base import ServerBindingCursor
from django.utils import timezone

from mailings.models import Client, Delivery, Mailing, Membership

logger = logging.getLogger(__name__)

BATCH = 400  # rows per statement on SQLite: a few thousand parameters at most
SQLITE_MINIMUM = (3, 35)  # UPDATE … FROM (3.33), RETURNING (3.35): mailings/checks.py


class UnsupportedDatabaseError(NotImplementedError):
    def __init__(self) -> None:
        super().__init__(
            f"mailings.sql has statements for PostgreSQL and SQLite only, not {connection.vendor}"
        )


def _vendor() -> str:
    if connection.vendor in ("postgresql", "sqlite"):
        return connection.vendor
    raise UnsupportedDatabaseError


def names(model: type[models.Model], *fields: str) -> list[str]:
    """The quoted table name, then the quoted primary-key column and ``fields`` columns."""
    quote = connection.ops.quote_name
    meta = model._meta
    columns = [meta.pk.column, *(meta.get_field(name).column for name in fields)]
    return [quote(meta.db_table), *(quote(column) for column in columns)]


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
        columns.append(_prepared_column(field, [row[i] for row in rows]))
    checks = [(meta.get_field(name), value) for name, value in (only_if or {}).items()]
    if _vendor() == "postgresql":
        sql = _pg_update(model, tuple(fields), tuple(only_if or ()), returning)
        check_params = [f.get_db_prep_value(value, connection) for f, value in checks]
        return _run(sql, [*columns, *check_params], bool(returning), prepared=True)
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


@functools.cache
def _pg_update(
    model: type[models.Model], fields: tuple[str, ...], checked: tuple[str, ...], returning
) -> str:
    """``update_rows``'s statement on PostgreSQL: the same text for every batch (built once
    per process), each column one array parameter. The checked values travel as columns of
    the source, not as constants in WHERE: a constant lets the planner scan an index on that
    column for every row with the value (all pending deliveries of every run, when the
    statistics are stale) instead of looking up the given primary keys."""
    meta = model._meta
    quote = connection.ops.quote_name
    targets = [meta.pk, *(meta.get_field(name) for name in fields)]
    checks = [meta.get_field(name) for name in checked]
    source = _pg_unnest(targets, checks)
    assign = ", ".join(f"{quote(f.column)} = v.c{i}" for i, f in enumerate(targets) if i)
    where = " AND ".join(
        [
            f"t.{quote(meta.pk.column)} = v.c0",
            *(f"t.{quote(f.column)} = v.w{i}" for i, f in enumerate(checks)),
        ]
    )
    sql = f"UPDATE {quote(meta.db_table)} AS t SET {assign} FROM {source} WHERE {where}"  # noqa: S608
    if returning:
        sql += f" RETURNING t.{quote(meta.get_field(returning).column)}"
    return sql


def _prepared_column(field: models.Field, values: list) -> list:
    """``values`` as the database takes them for ``field``, each distinct value prepared
    once: a batch of results shares its moment, its few statuses and tries, and Django's
    preparation of one value costs more than sending it."""
    done: dict = {}
    out = []
    for value in values:
        key = (type(value), value)
        try:
            out.append(done[key])
        except KeyError:
            done[key] = prepared = field.get_db_prep_save(value, connection)
            out.append(prepared)
        except TypeError:  # unhashable (a list, a dict)
            out.append(field.get_db_prep_save(value, connection))
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
    if _vendor() == "postgresql":
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


def _run(sql: str, params: list, returning: bool, *, prepared: bool = False) -> list:
    rows = _fetch(sql, params, prepared=prepared)
    return [row[0] for row in rows] if returning else []


STALE_PLAN = "cached plan must not change result type"


def _fetch(sql: str, params: list, *, prepared: bool = False) -> list[tuple]:
    """Run one statement and return its rows (none for a statement that returns none)."""
    with _cursor(prepared=prepared) as cursor:
        try:
            cursor.execute(sql, params)
        except NotSupportedError as exc:
            # A migration changed what a prepared statement returns: PostgreSQL refuses it
            # on this connection until it is deallocated. Outside a transaction, deallocate
            # (psycopg forgets its statements with them) and ask once more; inside one, the
            # rollback that follows the error makes psycopg do the same.
            if STALE_PLAN not in str(exc) or connection.in_atomic_block:
                raise
            logger.warning("prepared statements deallocated after a schema change: %s", exc)
            cursor.execute("DEALLOCATE ALL")
            cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _cursor(*, prepared: bool = False):
    """A cursor of Django's connection. With ``prepared``, on PostgreSQL (unless turned off:
    ``DATABASE_PREPARED_STATEMENTS``), one that binds its parameters on the server: the
    statement is prepared at its second use (psycopg's ``prepare_threshold``, set in
    ``site_config.env.database_config``), then parsed no more, and after five runs planned no
    more when PostgreSQL's generic plan costs what the custom ones did. Django's own cursors
    bind on the client, so every statement is parsed and planned again: the send loop's check
    between flushes cost more to plan than to run. Only for statements whose one plan suits
    every call: those that find their rows by primary key."""
    if not prepared or _vendor() != "postgresql":
        return connection.cursor()
    if connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return connection.cursor()
    connection.ensure_connection()
    bound = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(bound)
    return connection.make_cursor(bound)


def _recipient_sources(mailing_param: str) -> list[tuple[str, str]]:
    """Where a mailing's recipients come from, as (``FROM … WHERE`` the mailing, the
    client's id column): the clients chosen for it, and the members of its lists."""
    quote = connection.ops.quote_name
    clients_link = Mailing._meta.get_field("clients")
    clients_through = quote(clients_link.remote_field.through._meta.db_table)
    lists_link = Mailing._meta.get_field("lists")
    lists_through = quote(lists_link.remote_field.through._meta.db_table)
    memberships, _pk, member, member_list = names(Membership, "client", "client_list")
    chosen = (
        f"{clients_through} AS mc"
        f" WHERE mc.{quote(clients_link.m2m_column_name())} = {mailing_param}",
        f"mc.{quote(clients_link.m2m_reverse_name())}",
    )
    listed = (
        f"{memberships} AS ms INNER JOIN {lists_through} AS ml"
        f" ON ml.{quote(lists_link.m2m_reverse_name())} = ms.{member_list}"
        f" WHERE ml.{quote(lists_link.m2m_column_name())} = {mailing_param}",
        f"ms.{member}",
    )
    return [chosen, listed]


def _recipient_ids(mailing_param: str = "%s") -> str:
    """The ids of a mailing's recipients: its own clients and those of its lists, each once
    (``UNION``). The ownership triggers keep every one of them the mailing owner's."""
    return " UNION ".join(
        f"SELECT {column} FROM {source}"  # noqa: S608
        for source, column in _recipient_sources(mailing_param)
    )


def _is_recipient(client: str, mailing_param: str = "%s") -> str:
    """Whether the client whose id is the column ``client`` is one of a mailing's
    recipients: chosen for it, or a member of one of its lists. Asked of one delivery at a
    time (a claim, a check between renewals): two probes of indexes, where ``client IN``
    the recipients' ids would read and hash every recipient of the mailing once per
    statement: for a mailing of 50,000, once per flush of 20 messages."""
    probes = " OR ".join(
        f"EXISTS (SELECT 1 FROM {source} AND {column} = {client})"  # noqa: S608
        for source, column in _recipient_sources(mailing_param)
    )
    return f"({probes})"


def insert_deliveries(
    *,
    attempt_id: int,
    mailing_id: int,
    pending: str,
    skipped: str,
    reasons: dict[str, str],
) -> None:
    """One delivery per recipient of the mailing when the run starts (its clients and the
    clients of its lists, each once), in one ``INSERT … SELECT``: unsubscribed and bounced
    clients ``skipped`` with ``reasons["unsubscribed"]`` or ``reasons["bounced"]``. A second
    call for the same run adds nothing."""
    _vendor()
    # names() puts the table and the primary key first; a delivery's own id is not written.
    deliveries, _pk, *targets = names(
        Delivery, "attempt", "client", "email", "status", "response", "tries"
    )
    clients, pk, email, unsubscribed_at, bounced_at, full_name = names(
        Client, "email", "unsubscribed_at", "bounced_at", "full_name"
    )
    why = (
        f"CASE WHEN c.{unsubscribed_at} IS NOT NULL THEN %s"
        f" WHEN c.{bounced_at} IS NOT NULL THEN %s ELSE '' END"
    )
    # The WHERE clause also keeps SQLite from reading ON CONFLICT as part of the join.
    sql = (
        f"INSERT INTO {deliveries} ({', '.join(targets)}) "  # noqa: S608
        f"SELECT %s, c.{pk}, c.{email}, CASE WHEN ({why}) = '' THEN %s ELSE %s END, {why}, 0 "
        f"FROM {clients} AS c WHERE c.{pk} IN ({_recipient_ids()}) "
        f"ORDER BY c.{full_name}, c.{email}, c.{pk} ON CONFLICT DO NOTHING"
    )
    why_params = [reasons["unsubscribed"], reasons["bounced"]]
    params = [attempt_id, *why_params, pending, skipped, *why_params, mailing_id, mailing_id]
    _run(sql, params, False)


def _skip_reason(table: str) -> str:
    """A column for each delivery of ``table``: why it must not be sent after all (its client
    was deleted, unsubscribed, bounced, or left the mailing and its lists since the run
    began), or ''. One probe of the client's row; the recipient's probes only if it is live.
    Its parameters: ``_skip_reason_params``."""
    _d, _dpk, client_id = names(Delivery, "client")
    clients, client_pk, unsubscribed_at, bounced_at = names(Client, "unsubscribed_at", "bounced_at")
    # No row for the client reads as NULL, hence "deleted" (rather than testing
    # "client_id IS NULL": SQLite 3.40 answers that wrongly in a RETURNING clause when the
    # column is part of a unique index, as it is here).
    return (
        f"COALESCE((SELECT CASE WHEN c.{unsubscribed_at} IS NOT NULL THEN %s"  # noqa: S608
        f" WHEN c.{bounced_at} IS NOT NULL THEN %s"
        f" WHEN NOT {_is_recipient(f'c.{client_pk}')} THEN %s ELSE '' END"
        f" FROM {clients} AS c WHERE c.{client_pk} = {table}.{client_id}), %s)"
    )


def _skip_reason_params(mailing_id: int, reasons: dict[str, str]) -> list:
    return [
        reasons["unsubscribed"],
        reasons["bounced"],
        mailing_id,
        mailing_id,
        reasons["removed"],
        reasons["deleted"],
    ]


def claim_deliveries(
    *,
    attempt_id: int,
    mailing_id: int,
    pending: str,
    now: datetime,
    until: datetime,
    limit: int,
    returning: Sequence[str],
    reasons: dict[str, str],
) -> list[tuple]:
    """Lease up to ``limit`` of the run's pending deliveries that nobody holds (available
    now, not locked by another claim) until ``until``. Each row returned is the delivery's
    id, its ``returning`` fields in that order, the client's full name (empty for a deleted
    client) and why it must not be sent after all ('' if it may)."""
    field = Delivery._meta.get_field("available_at")
    params = [
        field.get_db_prep_value(until, connection),
        attempt_id,
        pending,
        field.get_db_prep_value(now, connection),
        limit,
        *_skip_reason_params(mailing_id, reasons),
    ]
    return _fetch(_claim_statement(_vendor(), tuple(returning)), params)


@functools.cache
def _claim_statement(vendor: str, returning: tuple[str, ...]) -> str:
    """``claim_deliveries``'s statement, built once per process. Planned at every claim (not
    prepared): which index suits ``attempt = %s … ORDER BY id LIMIT %s`` depends on the run."""
    skip_locked = " FOR UPDATE SKIP LOCKED" if vendor == "postgresql" else ""
    table, pk, attempt, status, available_at, client_id = names(
        Delivery, "attempt", "status", "available_at", "client"
    )
    clients, client_pk, full_name = names(Client, "full_name")
    _table, *selected = names(Delivery, *returning)
    return (
        f"UPDATE {table} SET {available_at} = %s WHERE {pk} IN ("  # noqa: S608
        f"SELECT {pk} FROM {table} WHERE {attempt} = %s AND {status} = %s"
        f" AND ({available_at} IS NULL OR {available_at} <= %s) ORDER BY {pk} LIMIT %s"
        f"{skip_locked}) RETURNING {', '.join(selected)},"
        f" COALESCE((SELECT c.{full_name} FROM {clients} AS c"
        f" WHERE c.{client_pk} = {table}.{client_id}), ''), {_skip_reason(table)}"
    )


def renew_deliveries(
    *,
    ids: Sequence[int],
    mailing_id: int,
    pending: str,
    held_until: datetime,
    until: datetime | None,
    reasons: dict[str, str],
) -> list[tuple[int, str, bool]]:
    """Extend the lease of deliveries a worker still holds (to ``until``): those still
    pending whose lease still ends at ``held_until`` (the moment this worker's claim or last
    renewal set: no other claim can have set the same one). Returns (id, why not to send it
    or '', whether the mailing may still send) for each delivery still held. With ``until``
    None the same question is asked and nothing is written (a check between renewals)."""
    vendor = _vendor()
    if not ids:
        return []
    field = Delivery._meta.get_field("available_at")
    among = [list(ids)] if vendor == "postgresql" else list(ids)
    held = [*among, pending, field.get_db_prep_value(held_until, connection)]
    returned = [*_skip_reason_params(mailing_id, reasons), mailing_id]
    if until is None:
        params = [*returned, *held]
    else:
        params = [field.get_db_prep_value(until, connection), *held, *returned]
    # PostgreSQL takes the ids as one array: the same text, prepared once, for any number.
    count = 0 if vendor == "postgresql" else len(ids)
    sql = _renew_statement(vendor, extend=until is not None, count=count)
    return [(row[0], row[1], bool(row[2])) for row in _fetch(sql, params, prepared=True)]


@functools.lru_cache(maxsize=256)
def _renew_statement(vendor: str, *, extend: bool, count: int) -> str:
    """``renew_deliveries``'s statement, built once per process: an ``UPDATE … RETURNING``
    (``extend``) or the same question as a ``SELECT``; ``count`` ids in SQLite's ``IN``."""
    table, pk, status, available_at = names(Delivery, "status", "available_at")
    mailings, mailing_pk, is_enabled, owner_id = names(Mailing, "is_enabled", "owner")
    owner = Mailing._meta.get_field("owner").related_model
    users, user_pk, is_active = names(owner, "is_active")
    if vendor == "postgresql":
        among = f"{pk} = ANY(%s)"
    else:
        among = f"{pk} IN ({', '.join(['%s'] * count)})"
    sendable = (
        f"EXISTS (SELECT 1 FROM {mailings} AS mm JOIN {users} AS u ON u.{user_pk} = mm.{owner_id}"  # noqa: S608
        f" WHERE mm.{mailing_pk} = %s AND mm.{is_enabled} AND u.{is_active})"
    )
    held = f"{among} AND {status} = %s AND {available_at} = %s"
    returned = f"{pk}, {_skip_reason(table)}, {sendable}"
    if not extend:
        return f"SELECT {returned} FROM {table} WHERE {held}"  # noqa: S608
    return f"UPDATE {table} SET {available_at} = %s WHERE {held} RETURNING {returned}"  # noqa: S608


def add_to_rows(
    model: type[models.Model], field: str, amounts: dict[int, int]
) -> list[tuple[int, int]]:
    """``field = field + amount`` for each row's primary key in one statement (a batch of
    them on SQLite); returns (pk, new value) of the rows that exist."""
    if not amounts:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    target = meta.get_field(field)
    pk, column = quote(meta.pk.column), quote(target.column)
    table = quote(meta.db_table)
    items = sorted(amounts.items())  # in key order: two flushers lock rows in one order
    if _vendor() == "postgresql":
        sql = (
            f"UPDATE {table} AS t SET {column} = t.{column} + v.c1 "  # noqa: S608
            f"FROM {_pg_unnest([meta.pk, target])} WHERE t.{pk} = v.c0 "
            f"RETURNING t.{pk}, t.{column}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [[k for k, _ in items], [n for _, n in items]])
            return [tuple(row) for row in cursor.fetchall()]
    out: list[tuple[int, int]] = []
    for start in range(0, len(items), BATCH):
        part = items[start : start + BATCH]
        sql = (
            f"UPDATE {table} AS t SET {column} = t.{column} + v.column2 "  # noqa: S608
            f"FROM ({_sqlite_values(len(part), 2)}) AS v WHERE t.{pk} = v.column1 "
            f"RETURNING {pk}, {column}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in part for value in row])
            out += [tuple(row) for row in cursor.fetchall()]
    return out


def increment_returning(model: type[models.Model], pk: int, field: str) -> int | None:
    """``field`` of one row plus one, atomically; the new value (None: no such row)."""
    _vendor()
    table, pk_column, column = names(model, field)
    sql = f"UPDATE {table} SET {column} = {column} + 1 WHERE {pk_column} = %s RETURNING {column}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return row[0] if row else None


def _ids_of(rows: models.QuerySet) -> tuple[str, tuple] | None:
    """The SQL of a queryset's primary keys, to use inside another statement; None for a
    queryset that can match nothing (``none()``)."""
    try:
        return rows.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        return None


def joined_ids(rows: models.QuerySet, field: str) -> tuple[str, int]:
    """``field`` (a number) of a queryset's rows as one comma-separated string, in the
    order of the field's values, and how many rows: ``("3,7,12", 3)``."""
    vendor = _vendor()
    column = connection.ops.quote_name("value")
    try:
        inner, params = rows.order_by().values(value=models.F(field)).query.sql_with_params()
    except EmptyResultSet:
        return "", 0
    if vendor == "postgresql":
        joined = f"string_agg(CAST(v.{column} AS text), ',' ORDER BY v.{column})"
        source = f"({inner}) AS v"
    else:  # SQLite joins in the order rows come, sorted by the subquery
        joined = f"group_concat(v.{column}, ',')"
        source = f"(SELECT * FROM ({inner}) ORDER BY {column}) AS v"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {joined}, count(*) FROM {source}", params)  # noqa: S608
        text, count = cursor.fetchone()
    return text or "", count


def add_to_list(*, list_id: int, clients: models.QuerySet, source: str) -> int:
    """The clients of a queryset (never loaded here) into a list, in one ``INSERT …
    SELECT``; those in it already stay as they were. Returns how many joined."""
    _vendor()
    table, _pk, *columns = names(Membership, "client_list", "client", "source", "added_at")
    clients_table, client_pk = names(Client)
    if _ids_of(clients) is None:
        return 0
    ids, params = _ids_of(clients)
    added = Membership._meta.get_field("added_at").get_db_prep_save(timezone.now(), connection)
    # The WHERE clause keeps SQLite from reading ON CONFLICT as part of the join.
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from the models
        f"SELECT %s, c.{client_pk}, %s, %s FROM {clients_table} AS c WHERE c.{client_pk} IN "
        f"({ids}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list_id, source, added, *params])
        return cursor.rowcount


def delete_clients(clients: models.QuerySet) -> int:
    """Delete the clients of a queryset in a fixed number of statements, whatever their
    number (Django's delete would load them to cascade): their past deliveries keep the
    address and lose the link (as ``on_delete=SET_NULL`` does), their list and mailing links
    go. The caller holds a transaction. Returns how many clients were deleted."""
    _vendor()
    if _ids_of(clients) is None:
        return 0
    ids, params = _ids_of(clients)
    quote = connection.ops.quote_name
    deliveries, _dpk, client_id = names(Delivery, "client")
    memberships, _mpk, member = names(Membership, "client")
    link = Mailing._meta.get_field("clients")
    through = quote(link.remote_field.through._meta.db_table)
    table, pk = names(Client)
    # The ids first, once: each statement below would otherwise run the query again, and
    # the last one could not (SQLite reads a table it deletes from only once).
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE mailings_doomed (id bigint PRIMARY KEY)")
        try:
            cursor.execute(f"INSERT INTO mailings_doomed (id) {ids}", params)
            doomed = "SELECT id FROM mailings_doomed"
            cursor.execute(
                f"UPDATE {deliveries} SET {client_id} = NULL WHERE {client_id} IN ({doomed})"  # noqa: S608
            )
            cursor.execute(f"DELETE FROM {memberships} WHERE {member} IN ({doomed})")  # noqa: S608
            cursor.execute(
                f"DELETE FROM {through} WHERE {quote(link.m2m_reverse_name())} IN ({doomed})"  # noqa: S608
            )
            cursor.execute(f"DELETE FROM {table} WHERE {pk} IN ({doomed})")  # noqa: S608
            return cursor.rowcount
        finally:
            cursor.execute("DROP TABLE mailings_doomed")


# --- A client import, staged: the file's rows copied into a temporary table, then merged into
# the clients in a few set-based statements (mailings/importing.py). ---------------------------

STAGED = "mailings_import_rows"
MERGED = "mailings_import_merged"


def stage_open() -> None:
    """An empty table, private to this connection, for an import's valid rows."""
    _vendor()
    stage_close()
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGED} (line bigint PRIMARY KEY, email text NOT NULL, "
            "full_name text NOT NULL, comment text NOT NULL)"
        )


def stage_close() -> None:
    """Drop this connection's staging tables (if any)."""
    with connection.cursor() as cursor:
        for table in (MERGED, STAGED):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def stage_rows(rows: Sequence[tuple[int, str, str, str]]) -> None:
    """``(line, email, full_name, comment)`` rows into the staging table: PostgreSQL's
    ``COPY`` (the rows stream in the copy protocol, no statement per row), SQLite's
    ``executemany`` of one prepared statement."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            columns = "(line, email, full_name, comment)"
            with cursor.cursor.copy(f"COPY {STAGED} {columns} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {STAGED} VALUES (%s, %s, %s, %s)", rows)  # noqa: S608


def stage_resolve(*, owner_id: int, limit: int, changes: int) -> dict:
    """Match the staged rows with ``owner_id``'s clients, by lower-cased address, as the
    import's rules say: the first row of an address gives its address, the last non-empty
    cell of each column its name and comment (an empty cell never erases a stored value); a
    stored client keeps its address and its subscription; a new address without a name is
    an error. Nothing is written to the clients (``stage_apply`` does). Returns the counts,
    the first ``limit`` lines of new addresses without a name, and the first ``changes``
    stored clients whose name or comment changes, as ``(email, new name or None, old name,
    new comment or None, old comment)``."""
    vendor = _vendor()
    table, pk, owner, email, full_name, comment = names(
        Client, "owner", "email", "full_name", "comment"
    )
    new_name = "m.full_name <> '' AND m.full_name <> m.old_name"
    new_comment = "m.comment <> '' AND m.comment <> m.old_comment"

    def count(condition: str, value: str = "1") -> str:
        return f"COALESCE(SUM(CASE WHEN {condition} THEN {value} ELSE 0 END), 0)"

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {MERGED}")
        if vendor == "postgresql":  # temporary tables have no statistics until analysed
            cursor.execute(f"ANALYZE {STAGED}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {MERGED} AS "  # noqa: S608 - names from the models
            "SELECT g.key, g.line, g.n, l.email, COALESCE(nm.full_name, '') AS full_name, "
            "COALESCE(cm.comment, '') AS comment, "
            f"c.{pk} AS client_id, c.{email} AS old_email, c.{full_name} AS old_name, "
            f"c.{comment} AS old_comment "
            "FROM (SELECT LOWER(email) AS key, MAX(line) AS line, MIN(line) AS first_line, "
            "COUNT(*) AS n, "
            "MAX(CASE WHEN full_name <> '' THEN line END) AS name_line, "
            f"MAX(CASE WHEN comment <> '' THEN line END) AS comment_line FROM {STAGED} "
            "GROUP BY LOWER(email)) AS g "
            f"JOIN {STAGED} AS l ON l.line = g.first_line "
            f"LEFT JOIN {STAGED} AS nm ON nm.line = g.name_line "
            f"LEFT JOIN {STAGED} AS cm ON cm.line = g.comment_line "
            f"LEFT JOIN {table} AS c ON c.{owner} = %s AND LOWER(c.{email}) = g.key",
            [owner_id],
        )
        cursor.execute(
            "SELECT "  # noqa: S608 - names from the models
            + ", ".join(
                [
                    count("1 = 1", "m.n - 1"),
                    count("m.client_id IS NOT NULL"),
                    count("m.client_id IS NULL AND m.full_name <> ''"),
                    count("m.client_id IS NULL AND m.full_name = ''"),
                    count(f"m.client_id IS NOT NULL AND (({new_name}) OR ({new_comment}))"),
                ]
            )
            + f" FROM {MERGED} AS m"
        )
        merged, updated_count, created_count, nameless, changed = cursor.fetchone()
        cursor.execute(
            f"SELECT m.line FROM {MERGED} AS m WHERE m.client_id IS NULL AND m.full_name = '' "  # noqa: S608
            "ORDER BY m.line LIMIT %s",
            [limit],
        )
        nameless_lines = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT m.old_email, CASE WHEN " + new_name + " THEN m.full_name END, m.old_name, "
            "CASE WHEN " + new_comment + " THEN m.comment END, m.old_comment "
            f"FROM {MERGED} AS m WHERE m.client_id IS NOT NULL AND (({new_name}) OR "
            f"({new_comment})) ORDER BY m.line LIMIT %s",
            [changes],
        )
        changed_rows = cursor.fetchall()
    return {
        "merged": int(merged),
        "updated": int(updated_count),
        "created": int(created_count),
        "nameless": int(nameless),
        "nameless_lines": nameless_lines,
        "changed": int(changed),
        "changes": changed_rows,
    }


def stage_apply(*, owner_id: int, list_id: int | None, source: str) -> int:
    """Write what ``stage_resolve`` matched: update the stored clients, create the new ones
    (a new address without a name is left out), put them all in ``list_id``. The caller
    holds the transaction. Returns how many clients were created."""
    _vendor()
    table, pk, owner, email, full_name, comment, created, updated = names(
        Client, "owner", "email", "full_name", "comment", "created_at", "updated_at"
    )
    with connection.cursor() as cursor:
        now = Client._meta.get_field("updated_at").get_db_prep_save(timezone.now(), connection)
        cursor.execute(
            f"UPDATE {table} AS c SET "  # noqa: S608
            f"{full_name} = CASE WHEN m.full_name <> '' THEN m.full_name ELSE c.{full_name} END, "
            f"{comment} = CASE WHEN m.comment <> '' THEN m.comment ELSE c.{comment} END, "
            f"{updated} = %s FROM {MERGED} AS m WHERE c.{pk} = m.client_id",
            [now],
        )
        cursor.execute(
            f"INSERT INTO {table} ({owner}, {email}, {full_name}, {comment}, {created}, "  # noqa: S608
            f"{updated}) SELECT %s, m.email, m.full_name, m.comment, %s, %s FROM {MERGED} AS m "
            "WHERE m.client_id IS NULL AND m.full_name <> '' ORDER BY m.line "
            "ON CONFLICT DO NOTHING",
            [owner_id, now, now],
        )
        created_count = cursor.rowcount
        if list_id is not None:
            members, _mpk, in_list, member, origin, added = names(
                Membership, "client_list", "client", "source", "added_at"
            )
            cursor.execute(
                f"INSERT INTO {members} ({in_list}, {member}, {origin}, {added}) "  # noqa: S608
                f"SELECT %s, c.{pk}, %s, %s FROM {MERGED} AS m JOIN {table} AS c "
                f"ON c.{owner} = %s AND LOWER(c.{email}) = m.key "
                "WHERE m.client_id IS NOT NULL OR m.full_name <> '' ON CONFLICT DO NOTHING",
                [list_id, source, now, owner_id],
            )
    return created_count
