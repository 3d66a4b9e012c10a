"""Spreadsheet exports that a spreadsheet program cannot be made to run.

A CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some programs skip before looking) is read as a formula by Excel, LibreOffice and Google
Sheets: a client's name or a message's subject, typed by one user, would run in the
spreadsheet of whoever exports it (a manager exports every user's mailings). As OWASP's
"CSV injection" advice says, such a cell is written with a leading single quote, which the
programs show as text. XLSX needs nothing: Wagtail writes every such cell as a string.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator

from django.http import FileResponse
from django.utils import timezone, translation
from django.utils.translation import gettext

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000  # rows read from the database at a time
IN_MEMORY = 8 * 2**20  # an XLSX file up to this size is built in memory, a bigger one on disk


class Chunked:
    """A queryset read a chunk at a time (``iterator``): an export of a million rows never
    holds them all (iterating the queryset itself caches every row it read)."""

    def __init__(self, queryset) -> None:
        self.queryset = queryset
        self.model = queryset.model

    def __iter__(self):
        return self.queryset.iterator(chunk_size=EXPORT_CHUNK)


def csv_safe(value):
    """``value`` as a CSV cell no spreadsheet reads as a formula (other values unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def in_reader_settings(rows: Iterable, *, language: str, zone) -> Iterator:
    """``rows`` made in the request's language and time zone, one at a time: a streamed CSV
    is written after the view returned, when Wagtail has given both back, and came out in
    English and UTC for a Russian reader in Moscow."""
    rows = iter(rows)
    while True:
        with translation.override(language), timezone.override(zone):
            try:
                row = next(rows)
            except StopIteration:
                return
        yield row


class SafeCSVExportMixin:
    """For a view with Wagtail's ``SpreadsheetExportMixin``: every CSV cell through
    ``csv_safe``, after the view's own preprocessing (dates, lists) made it a string; a yes
    or no in the reader's language."""

    def get(self, request, *args, **kwargs):
        if self.is_export:
            # Straight to the file: Wagtail builds the listing's page context first, whose
            # item count is ``len(queryset)`` when nothing is paginated: every row in memory.
            return self.as_spreadsheet(self.get_queryset(), request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    def stream_csv(self, queryset):
        return super().stream_csv(Chunked(queryset))

    def write_xlsx(self, queryset, output):
        return super().write_xlsx(Chunked(queryset), output)

    def write_xlsx_response(self, queryset):
        """Wagtail's, with the workbook written to a file that goes to disk past a few MB
        (Wagtail keeps the whole file in memory)."""
        output = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - FileResponse closes it
        self.write_xlsx(queryset, output)
        output.seek(0)
        return FileResponse(
            output,
            as_attachment=True,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"{self.get_filename()}.xlsx",
        )

    def write_csv_response(self, queryset):
        response = super().write_csv_response(queryset)
        response.streaming_content = in_reader_settings(
            response.streaming_content,
            language=translation.get_language(),
            zone=timezone.get_current_timezone(),
        )
        return response

    def preprocess_field_value(self, field, value, export_format):
        if isinstance(value, bool):  # "Yes" / "Да", not "True"
            value = gettext("Yes") if value else gettext("No")
        value = super().preprocess_field_value(field, value, export_format)
        if export_format == self.FORMAT_CSV:
            return csv_safe(value)
        return value
