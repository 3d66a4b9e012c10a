"""Import clients from a CSV file: read and checked in this process a row at a time, the
valid rows copied into a table of the database's own (``COPY`` on PostgreSQL), then merged
into the clients in a few set-based statements (mailings/sql.py), so a million rows take
seconds and constant memory. (The import before, chunk by chunk through the ORM, is
``upserting.clients_import_by_chunks``, kept to compare: bench/import_clients.py.)

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
already stored (``ImportReport.changes``); ``hold_changes`` keeps nothing only if the file
changes stored clients (the admin's import job asks its owner before overwriting them).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from mailings import sql
from mailings.models import ClientList, Membership

STAGE_BATCH = 10_000  # rows copied to the database at a time (and progress reported)
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
    held: bool = False  # nothing written: the file changes stored clients (``hold_changes``)

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
    client_list: ClientList | None = None,
    dry_run: bool = False,
    hold_changes: bool = False,
    progress: Callable[[int, int, int, bool], None] | None = None,
    merged: Callable[[ImportReport], None] | None = None,
    batch: int = STAGE_BATCH,
) -> ImportReport:
    """Create or update ``owner``'s clients from a CSV file; returns what happened per row.
    With ``client_list``, every client of the file joins that list. ``progress(rows read,
    invalid rows, bytes read, merging)`` is called after each batch of rows is staged, and
    once more, with ``merging`` true, inside the transaction that writes the clients, before
    it does; ``merged(report)`` inside it, after: a caller records the outcome in the same
    transaction as the clients (and an exception from either undoes it all).

    Nothing is written to the clients until the whole file has been read: a file that turns
    out unreadable half-way (bad encoding, broken quoting) raises ``ImportFileError`` having
    changed nothing, and the merge is one transaction (a process killed in it changes
    nothing either). Staging happens outside any transaction of the caller's making, so a
    caller's progress writes are seen while the file is read.
    """
    report = ImportReport(encoding=read_encoding(file))
    sql.stage_open()
    try:
        staged, read = [], 0
        for row in read_rows(file, report):
            staged.append((row.line, row.email, row.full_name, row.comment))
            read += 1
            if len(staged) >= batch:
                sql.stage_rows(staged)
                staged = []
                if progress:
                    progress(read + report.invalid, report.invalid, file.tell(), False)
        sql.stage_rows(staged)
        if progress:
            progress(read + report.invalid, report.invalid, file.tell(), False)
        with transaction.atomic():
            if progress:
                progress(read + report.invalid, report.invalid, file.tell(), True)
            _merge_staged(owner, client_list, report, dry_run=dry_run, hold=hold_changes)
            report.errors.sort(key=lambda error: error[0])
            del report.errors[MAX_REPORTED_ERRORS:]
            if merged:
                merged(report)
    finally:
        sql.stage_close()
    return report


def _merge_staged(owner, client_list, report: ImportReport, *, dry_run: bool, hold: bool) -> None:
    found = sql.stage_resolve(
        owner_id=owner.pk, limit=MAX_REPORTED_ERRORS, changes=MAX_LISTED_CHANGES
    )
    report.changed = found["changed"]
    report.held = dry_run or (hold and report.changed > 0)
    report.created, report.updated, report.merged = (
        found["created"],
        found["updated"],
        found["merged"],
    )
    if not report.held:
        report.created = sql.stage_apply(
            owner_id=owner.pk,
            list_id=client_list.pk if client_list else None,
            source=Membership.Source.IMPORT,
        )
    for line in found["nameless_lines"]:
        report.add_error(line, _("the full name is empty"))
    report.invalid += found["nameless"] - len(found["nameless_lines"])
    for email, name, old_name, comment, old_comment in found["changes"]:
        for column, new, old in (("full_name", name, old_name), ("comment", comment, old_comment)):
            if new is not None and len(report.changes) < MAX_LISTED_CHANGES:
                report.changes.append((email, column, old, new))


def check_header(file: IO[bytes]) -> None:
    """Raise ``ImportFileError`` at once for a file whose header row is missing or names no
    address column (what an upload form can say before the file goes to a worker). Reads
    the first line only."""
    first = file.readline(1 << 16)
    file.seek(0)
    try:
        first.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "cp1251"
    head = io.BytesIO(first)
    report = ImportReport(encoding=encoding)
    next(_read(head, report), None)


def read_rows(file: IO[bytes], report: ImportReport) -> Iterator[Row]:
    """The file's valid rows, in order; the bad ones go to ``report`` with their line."""
    return _valid_rows(_read(file, report), report)


def read_encoding(file: IO[bytes]) -> str:
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
        reason = row_error(values)
        if reason:
            report.add_error(line, reason)
            continue
        yield Row(line=line, **values)


def row_error(values: dict[str, str]) -> str | None:
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
