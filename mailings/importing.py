"""Import clients from a CSV file, streamed in chunks so 100,000 rows fit in bounded memory.

The file has a header row naming the columns ``email``, ``full_name`` and ``comment`` (any
order, any case; ``email`` required), is UTF-8 with or without a byte-order mark, and is
separated by commas or semicolons. Rows are merged on the lower-cased address: a later row
for the same address (in the file, or already stored) updates the client. Empty cells leave
stored values as they are, and an import never re-subscribes someone who unsubscribed.

A file that cannot be read as a whole refuses the import and changes nothing: a quoted cell
left open (reported at the line where its record starts, the quote's line), or bytes that
are not UTF-8 (reported at their own line). A bad row (an address that is not one, a cell
with a NUL character) is reported with its line and skipped.
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

from mailings.models import Client
from mailings.permissions import policy_for

CHUNK_SIZE = 1000
MAX_REPORTED_ERRORS = 500
COLUMNS = ("email", "full_name", "comment")
FIELD_LIMITS = {"email": 254, "full_name": 255, "comment": 10_000}


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


@transaction.atomic
def clients_import(*, owner, file: IO[bytes], chunk_size: int = CHUNK_SIZE) -> ImportReport:
    """Create or update ``owner``'s clients from a CSV file; returns what happened per row.

    One transaction: a file that turns out unreadable half-way (bad encoding, broken quoting)
    raises ``ImportFileError`` and leaves the client list as it was.
    """
    report = ImportReport()
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
        _save_chunk(owner, merged, repeated, report)
    return report


def _read(file: IO[bytes], report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    lines = _lines(file)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise ImportFileError(_("The file is empty: a header row is expected."))
    header_line = first[1]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))]
    if "email" not in header:
        raise ImportFileError(
            _("The header row must name an 'email' column (found: %(found)s).")
            % {"found": ", ".join(header) or _("nothing")}
        )
    report.ignored_columns = [name for name in header if name and name not in COLUMNS]

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


def _lines(file: IO[bytes]) -> Iterator[tuple[int, str]]:
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
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(
                _("The file is not UTF-8 text (line %(line)s). Nothing was imported.")
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


def _save_chunk(owner, rows: dict[str, Row], repeated: set[str], report: ImportReport) -> None:
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
            client.full_name = row.full_name or client.full_name
            client.comment = row.comment or client.comment
            client.updated_at = now  # bulk_update does not apply auto_now
            to_update.append(client)
    Client.objects.bulk_create(to_create)
    Client.objects.bulk_update(to_update, ["full_name", "comment", "updated_at"])
    report.created += len(to_create)
    report.updated += sum(1 for client in to_update if client.email_key not in repeated)
