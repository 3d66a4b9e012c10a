"""Import clients from a CSV file, streamed in chunks so 100,000 rows fit in bounded memory.

The file has a header row naming the columns ``email``, ``full_name`` and ``comment`` (any
order, any case, or a common name for them in English or Russian: "E-mail", "Name", "ФИО",
"Примечание"...; ``email`` required), is UTF-8 (with or without a byte-order mark) or
Windows-1251 (what Russian Excel writes), and is separated by commas or semicolons. Rows are
merged on the lower-cased address: a later row for the same address (in the file, or already
stored) updates the client. Empty cells leave stored values as they are, and an import never
re-subscribes someone who unsubscribed.

A file that cannot be read as a whole refuses the import and changes nothing: a quoted cell
left open (reported at the line where its record starts, the quote's line), or bytes that
are neither UTF-8 nor Windows-1251 (reported at their own line). A bad row (an address that
is not one, a cell with a NUL character) is reported with its line and skipped; the report
lists them in line order.

``dry_run`` does all of it and keeps nothing, and lists what it would change in clients
already stored (``ImportReport.changes``): the admin asks before overwriting them.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings import sql
from mailings.models import Client, ClientList, Membership
from mailings.permissions import policy_for

CHUNK_SIZE = 1000
MAX_REPORTED_ERRORS = 500
MAX_LISTED_CHANGES = 50
COLUMNS = ("email", "full_name", "comment")
FIELD_LIMITS = {"email": 254, "full_name": 255, "comment": 10_000}
# Header names, compared in lower case without spaces, dots, dashes or underscores.
SYNONYMS = {
    "email": {
        "email",
        "mail",
        "emailaddress",
        "почта",
        "элпочта",
        "электроннаяпочта",
        "адресэлектроннойпочты",
        "адреспочты",
        "емейл",
        "имейл",
        "емэйл",
    },
    "full_name": {
        "fullname",
        "name",
        "contactname",
        "clientname",
        "фио",
        "имя",
        "полноеимя",
        "имяифамилия",
        "фамилияимя",
        "клиент",
        "контакт",
    },
    "comment": {
        "comment",
        "comments",
        "note",
        "notes",
        "комментарий",
        "комментарии",
        "примечание",
        "примечания",
        "заметка",
        "заметки",
    },
}
COLUMN_OF = {synonym: column for column, names in SYNONYMS.items() for synonym in names}
ENCODINGS = ("utf-8", "cp1251")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (encoding, header); nothing was imported."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    merged: int = 0  # rows for an address that appeared earlier in the same file
    invalid: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    # Stored clients the file changes: (address, field, old value, new value), the first few.
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)
    changed: int = 0  # stored clients whose name or comment the file changes

    def add_change(self, client, name: str, new: str) -> None:
        if len(self.changes) < MAX_LISTED_CHANGES:
            self.changes.append((client.email, name, getattr(client, name), new))

    @property
    def errors_truncated(self) -> bool:
        return self.invalid > len(self.errors)

    def add_error(self, line: int, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, reason))


@dataclass
class Row:
    line: int
    email: str
    full_name: str
    comment: str


def clients_import(
    *,
    owner,
    file: IO[bytes],
    chunk_size: int = CHUNK_SIZE,
    dry_run: bool = False,
    client_list: ClientList | None = None,
) -> ImportReport:
    """Create or update ``owner``'s clients from a CSV file; returns what happened per row.
    With ``client_list``, every client of the file joins that list.

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
    report = ImportReport(encoding=_encoding(file))
    seen: set[str] = set()
    for chunk in _chunks(_valid_rows(_read(file, report), report), chunk_size):
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


def _encoding(file: IO[bytes]) -> str:
    """UTF-8 if the whole file is, else Windows-1251 (one pass, decoded in C, in blocks).
    A file with UTF-8 letters before a byte that breaks it is UTF-8 gone wrong, not
    Windows-1251 (which would turn every letter into two): read as UTF-8, it is refused at
    the broken line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    letters = False  # non-ASCII text decoded as UTF-8 so far
    try:
        for block in iter(lambda: file.read(1 << 16), b""):
            letters = letters or not decoder.decode(block).isascii()
        decoder.decode(b"", final=True)
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "utf-8" if letters else "cp1251"
    file.seek(0)
    return encoding


def _column(name: str) -> str | None:
    """The column a header cell names: ``email``, ``full_name``, ``comment`` or None."""
    key = "".join(char for char in name.lower() if char.isalnum())
    return COLUMN_OF.get(key)


def _read(file: IO[bytes], report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    lines = _lines(file, report.encoding)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise ImportFileError(_("The file is empty: a header row is expected."))
    header_line = first[1]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    cells = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter))]
    header: list[str] = []
    for name in cells:
        column = _column(name)
        # A second column for the same field is ignored, as any unknown one.
        header.append(column if column and column not in header else f"?{name}")
    if "email" not in header:
        raise ImportFileError(
            _("The header row must name an 'email' column (found: %(found)s).")
            % {"found": ", ".join(cells) or _("nothing")}
        )
    report.ignored_columns = [name[1:] for name in header if name.startswith("?") and name[1:]]

    # A record may span lines (a quoted comment with line breaks): the csv reader pulls them
    # from ``physical``, which notes where each record started. Strict quoting: a quote left
    # open would otherwise swallow the rest of the file into one cell, silently.
    position = {"line": 1}

    def physical() -> Iterator[str]:
        for number, text in lines:
            position["line"] = number
            yield text

    reader = csv.reader(physical(), delimiter=delimiter, strict=True)
    while True:
        start = position["line"] + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(
                _(
                    "Line %(line)s cannot be read: %(reason)s. Check the quotes that open on "
                    "that line: each quoted cell must be closed. Nothing was imported."
                )
                % {"line": start, "reason": exc}
            ) from None
        if not any(value.strip() for value in values):
            continue
        if len(values) > len(header):
            yield start, {"__error__": _("more cells than columns in the header")}
            continue
        yield start, dict(zip(header, values, strict=False))


def _lines(file: IO[bytes], encoding: str) -> Iterator[tuple[int, str]]:
    """The file's physical lines, numbered from 1, each decoded on its own, so that an
    encoding error names its own line (the byte-order mark is dropped)."""
    number = 0
    while True:
        raw = file.readline()
        if not raw:
            return
        number += 1
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield number, raw.decode(encoding)
        except UnicodeDecodeError:
            raise ImportFileError(
                _(
                    "The file is neither UTF-8 nor Windows-1251 text (line %(line)s). "
                    "Nothing was imported."
                )
                % {"line": number}
            ) from None


def _valid_rows(rows: Iterable[tuple[int, dict[str, str]]], report: ImportReport) -> Iterator[Row]:
    for line, cells in rows:
        if "__error__" in cells:
            report.add_error(line, cells["__error__"])
            continue
        values = {name: (cells.get(name) or "").strip() for name in COLUMNS}
        reason = _row_error(values)
        if reason:
            report.add_error(line, reason)
            continue
        yield Row(line=line, **values)


def _row_error(values: dict[str, str]) -> str | None:
    if any("\x00" in value for value in values.values()):
        return _("a cell contains a NUL character")
    email = values["email"]
    if not email:
        return _("the e-mail address is empty")
    try:
        validate_email(email)
    except ValidationError:
        return _("'%(email)s' is not a valid e-mail address") % {"email": email[:100]}
    for name, limit in FIELD_LIMITS.items():
        if len(values[name]) > limit:
            return _("%(field)s is longer than %(limit)s characters") % {
                "field": name,
                "limit": limit,
            }
    if "\r" in values["full_name"] or "\n" in values["full_name"]:
        return _("the name must be a single line")
    return None


def _merge(earlier: Row, later: Row) -> Row:
    return Row(
        line=later.line,
        email=later.email,
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
        reason = _row_error(values)
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
