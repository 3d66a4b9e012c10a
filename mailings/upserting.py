"""Clients saved row by row through the ORM: the API's bulk upsert (a thousand entries at
most, one answer per entry) and the CSV import before it was staged in the database
(``clients_import_by_chunks``, kept to compare). The rules are the CSV import's
(mailings/importing.py): a later row for an address wins, an empty value never erases, and
nobody who unsubscribed is subscribed again."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings import sql
from mailings.importing import COLUMNS, ImportReport, Row, read_encoding, read_rows, row_error
from mailings.models import Client, ClientList, Membership
from mailings.permissions import policy_for

CHUNK_SIZE = 1000


def clients_import_by_chunks(
    *,
    owner,
    file: IO[bytes],
    chunk_size: int = CHUNK_SIZE,
    dry_run: bool = False,
    client_list: ClientList | None = None,
) -> ImportReport:
    """The CSV import as it was before the staged one (``importing.clients_import``), kept
    to compare the two (bench/import_clients.py) and as the reference the staged import's
    tests are checked against: chunks of rows saved through the ORM. Same rules and report.

    One transaction: a file that turns out unreadable half-way (bad encoding, broken quoting)
    raises ``ImportFileError`` and leaves the client list as it was; a dry run is rolled
    back whatever happens.
    """
    with transaction.atomic():
        report = _import(owner, file, chunk_size, client_list)
        if dry_run:
            transaction.set_rollback(True)
    report.errors.sort(key=lambda error: error[0])
    return report


def _import(owner, file: IO[bytes], chunk_size: int, client_list) -> ImportReport:
    report = ImportReport(encoding=read_encoding(file))
    seen: set[str] = set()
    for chunk in _chunks(read_rows(file, report), chunk_size):
        merged: dict[str, Row] = {}
        repeated: set[str] = set()  # saved by an earlier chunk of this file
        for row in chunk:
            key = row.email.lower()
            if key in seen:
                report.merged += 1
                earlier = merged.get(key)
                if earlier is None:
                    repeated.add(key)
                else:
                    row = _merge(earlier, row)
            seen.add(key)
            merged[key] = row
        saved = _save_chunk(owner, merged, repeated, report)
        if client_list is not None:
            sql.insert_rows(
                Membership,
                ("client",),
                [(pk,) for pk, _created in saved.values()],
                values={"client_list": client_list.pk, "source": Membership.Source.IMPORT},
            )
    return report


def _merge(earlier: Row, later: Row) -> Row:
    return Row(
        line=later.line,
        email=earlier.email,
        full_name=later.full_name or earlier.full_name,
        comment=later.comment or earlier.comment,
    )


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _save_chunk(
    owner, rows: dict[str, Row], repeated: set[str], report: ImportReport
) -> dict[str, tuple[int, bool]]:
    """Returns, per lower-cased address, the client's id and whether it was created."""
    existing = {
        client.email_key: client
        for client in policy_for(Client)
        .instances_owned_by(owner)
        .annotate(email_key=Lower("email"))
        .filter(email_key__in=list(rows))
    }
    to_create, to_update = [], []
    now = timezone.now()
    for key, row in rows.items():
        client = existing.get(key)
        if client is None:
            if not row.full_name:
                report.add_error(row.line, _("the full name is empty"))
                continue
            to_create.append(
                Client(owner=owner, email=row.email, full_name=row.full_name, comment=row.comment)
            )
        else:
            changed = False
            for name in ("full_name", "comment"):
                new = getattr(row, name)
                if new and new != getattr(client, name):
                    report.add_change(client, name, new)
                    setattr(client, name, new)
                    changed = True
            report.changed += changed
            client.updated_at = now  # bulk_update does not apply auto_now
            to_update.append(client)
    Client.objects.bulk_create(to_create)
    Client.objects.bulk_update(to_update, ["full_name", "comment", "updated_at"])
    report.created += len(to_create)
    report.updated += sum(1 for client in to_update if client.email_key not in repeated)
    saved = {client.email.lower(): (client.pk, True) for client in to_create}
    saved.update({client.email_key: (client.pk, False) for client in to_update})
    return saved


@dataclass
class Upserted:
    """What became of one entry of a bulk upsert."""

    index: int
    email: str
    result: str  # "created", "updated", "merged" (a later entry had its address), "invalid"
    id: int | None = None
    error: str = ""


def clients_upsert(
    *, owner, entries: list[dict], source: str = Membership.Source.API
) -> list[Upserted]:
    """Create or update ``owner``'s clients from ``entries`` (dicts of ``email``,
    ``full_name``, ``comment`` and ``lists``, a list of the owner's list ids), with the CSV
    import's rules: the same checks, a later entry for an address wins, an empty value never
    erases, nobody unsubscribed is subscribed again. One transaction and a fixed number of
    statements whatever the number of entries; a result per entry, in order."""
    report = ImportReport()
    results: list[Upserted] = []
    rows: dict[str, Row] = {}
    lists_of: dict[str, set[int]] = {}
    for index, entry in enumerate(entries):
        values = {name: str(entry.get(name) or "").strip() for name in COLUMNS}
        reason = row_error(values)
        results.append(
            Upserted(index, values["email"], "invalid" if reason else "", error=reason or "")
        )
        if reason:
            continue
        key = values["email"].lower()
        row = Row(line=index, **values)
        if key in rows:
            results[rows[key].line].result = "merged"
            row = _merge(rows[key], row)
        rows[key] = row
        lists_of.setdefault(key, set()).update(entry.get("lists") or ())
    with transaction.atomic():
        saved = _save_chunk(owner, rows, set(), report)
        pairs = {
            (saved[key][0], list_id)
            for key, ids in lists_of.items()
            if key in saved
            for list_id in ids
        }
        if pairs:
            sql.insert_rows(
                Membership, ("client", "client_list"), sorted(pairs), values={"source": source}
            )
    for key, row in rows.items():
        outcome = results[row.line]
        if key in saved:
            outcome.id, created = saved[key]
            outcome.result = "created" if created else "updated"
        else:  # a new address without a name: _save_chunk refused it
            outcome.result, outcome.error = "invalid", _("the full name is empty")
    for outcome in results:
        if outcome.result == "merged":
            later = saved.get(outcome.email.lower())
            outcome.id = later[0] if later else None
    return results
