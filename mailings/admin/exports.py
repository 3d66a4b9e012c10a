"""Spreadsheet exports that a spreadsheet program cannot be made to run.

A CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which
some programs skip before looking) is read as a formula by Excel, LibreOffice and Google
Sheets: a client's name or a message's subject, typed by one user, would run in the
spreadsheet of whoever exports it (a manager exports every user's mailings). As OWASP's
"CSV injection" advice says, such a cell is written with a leading single quote, which the
programs show as text. XLSX needs nothing: every text cell is written as a string.
"""

from __future__ import annotations

import datetime
import decimal
import tempfile
from collections.abc import Iterable, Iterator

import xlsxwriter
from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from wagtail.admin.views.mixins import ExcelDateFormatter

from mailings import jobs, services

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_CHUNK = 2000  # rows read from the database at a time
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IN_MEMORY = 8 * 2**20  # an XLSX file up to this size is built in memory, a bigger one on disk


class Chunked:
    """A queryset read a chunk at a time (``iterator``): an export of a million rows never
    holds them all (iterating the queryset itself caches every row it read). An export
    written by a worker reports its rows as they are read (``request.export_progress``)."""

    def __init__(self, queryset, request=None) -> None:
        self.queryset = queryset
        self.model = queryset.model
        self.progress = getattr(request, "export_progress", None)

    def __iter__(self):
        if self.progress is None:
            return self.queryset.iterator(chunk_size=EXPORT_CHUNK)
        return self._counted()

    def _counted(self):
        read = 0
        for row in self.queryset.iterator(chunk_size=EXPORT_CHUNK):
            yield row
            read += 1
            if read == EXPORT_CHUNK:
                self.progress(read)
                read = 0
        self.progress(read)


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


def export_in_background(request, *, total: int, name: str):
    """A redirect to a new export job's page when an export of ``total`` rows is big enough
    to run in a worker; None when it is answered at once (small, or this is the worker)."""
    if getattr(request, "export_job", None) is not None or total < jobs.background_from():
        return None
    export_format = "xlsx" if request.GET.get("export") == "xlsx" else "csv"
    job = services.export_start(
        owner=request.user,
        path=request.path,
        query=request.GET.urlencode(),
        export_format=export_format,
        total=total,
        name=name,
    )
    messages.info(
        request,
        ngettext(
            "The export of %(count)s row is being written; download it from this page.",
            "The export of %(count)s rows is being written; download it from this page.",
            total,
        )
        % {"count": number_format(total, force_grouping=True)},
    )
    return redirect("mailings_jobs:inspect", job.pk)


class SafeCSVExportMixin:
    """For a view with Wagtail's ``SpreadsheetExportMixin``: every CSV cell through
    ``csv_safe``, after the view's own preprocessing (dates, lists) made it a string; a yes
    or no in the reader's language."""

    def get(self, request, *args, **kwargs):
        if self.is_export:
            # Straight to the file: Wagtail builds the listing's page context first, whose
            # item count is ``len(queryset)`` when nothing is paginated: every row in memory.
            queryset = self.get_queryset()
            background = export_in_background(
                request, total=queryset.count(), name=self.get_filename()
            )
            return background or self.as_spreadsheet(queryset, request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    def stream_csv(self, queryset):
        return super().stream_csv(Chunked(queryset, self.request))

    def write_xlsx(self, queryset, output):
        """The workbook through XlsxWriter in constant-memory mode (each row goes to disk as
        it is written; 1.4 times faster than openpyxl's write-only workbook, which Wagtail
        uses: docs/benchmarks.md). Every text is written as text, never as a formula or a
        link, and dates with the format Wagtail gives them."""
        book = xlsxwriter.Workbook(
            output,
            {
                "constant_memory": True,
                "remove_timezone": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                "tmpdir": tempfile.gettempdir(),
            },
        )
        sheet = book.add_worksheet("Sheet1")
        dates = book.add_format({"num_format": ExcelDateFormatter().get()})
        for column, field in enumerate(self.list_export):
            sheet.write_string(0, column, str(self.get_heading(queryset, field)))
        for row, item in enumerate(Chunked(queryset, self.request), start=1):
            for column, (field, value) in enumerate(self.to_row_dict(item).items()):
                value = self.preprocess_field_value(field, value, self.FORMAT_XLSX)
                if value is None or value == "":
                    continue
                if isinstance(value, datetime.datetime | datetime.date):
                    sheet.write_datetime(row, column, value, dates)
                elif isinstance(value, int | float | decimal.Decimal):
                    sheet.write_number(row, column, value)
                else:
                    sheet.write_string(row, column, str(value))
        book.close()

    def write_xlsx_response(self, queryset):
        """Wagtail's, with the workbook written to a file that goes to disk past a few MB
        (Wagtail keeps the whole file in memory)."""
        output = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - FileResponse closes it
        self.write_xlsx(queryset, output)
        output.seek(0)
        return FileResponse(
            output,
            as_attachment=True,
            content_type=XLSX_TYPE,
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
