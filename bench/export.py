"""Benchmark: exporting a big client list, CSV and XLSX, in bounded memory.

For ``--rows`` clients of one user (100,000 by default; 1,000,000 with ``--rows 1000000``):
the admin's exports as they run now (the listing's ``?export=csv`` streamed, ``?export=xlsx``
written to a spooled file; rows read 2,000 at a time) against Wagtail's own export of the same
queryset (every row cached by the queryset, the workbook in memory), and the two XLSX writers
in constant-memory mode on the same rows: openpyxl's write-only workbook and XlsxWriter's
``constant_memory``. Prints rows per second and the peak growth of resident memory of each,
measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/export.py

Target (issue 20): the 1M XLSX export's memory growth under 100 MB.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time

from _django import bench_database, reset_rss_peak, rss_now_kb, rss_peak_kb

LIMIT_MB = 100


def naive(row):
    """Excel has no time zones: dates as the admin's export writes them, without one."""
    return [v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo else v for v in row]


def measure(name: str, work) -> dict:
    gc.collect()
    before = rss_now_kb()
    exact = reset_rss_peak()
    started = time.perf_counter()
    rows = work()
    seconds = time.perf_counter() - started
    growth = (rss_peak_kb() - before) / 1024
    print(
        f"{name:<44} {rows / seconds:>10,.0f} rows/s {seconds:>7.1f} s {growth:>8.1f} MB"
        + ("" if exact else "  (peak not resettable)"),
        flush=True,
    )
    return {"seconds": seconds, "growth": growth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    with bench_database() as connection:
        from django.conf import settings
        from django.test import Client as Browser
        from wagtail.admin.views.mixins import SpreadsheetExportMixin

        from mailings.admin.clients import ClientViewSet
        from mailings.models import Client
        from tests.factories import UserFactory

        settings.ALLOWED_HOSTS = ["testserver"]
        owner = UserFactory(role="Users")
        Client.objects.bulk_create(
            (
                Client(
                    owner=owner,
                    email=f"r{i}@example.org",
                    full_name=f"Reader {i}",
                    comment=f"row {i}",
                )
                for i in range(args.rows)
            ),
            batch_size=10_000,
        )
        browser = Browser()
        browser.force_login(owner)
        clients = Client.objects.filter(owner=owner).order_by("full_name", "email")
        fields = ClientViewSet.list_export
        print(f"database: {connection.vendor}; {args.rows:,} clients")
        print(f"{'':<44} {'speed':>17} {'time':>9} {'peak RSS growth':>11}")

        def admin(kind: str):
            def run() -> int:
                response = browser.get(f"/admin/mailings/clients/?export={kind}")
                assert response.status_code == 200
                size = 0
                for chunk in response.streaming_content:
                    size += len(chunk)
                response.close()
                return args.rows

            return run

        # Warm up: the first request loads templates, translations and URL patterns; not
        # the export's to count.
        for kind in ("csv", "xlsx"):
            warm = browser.get(f"/admin/mailings/clients/?export={kind}&q=r12345")
            b"".join(warm.streaming_content)
        csv_now = measure("admin CSV export (streamed, 2,000 at a time)", admin("csv"))
        xlsx_now = measure("admin XLSX export (spooled file)", admin("xlsx"))

        class Wagtails(SpreadsheetExportMixin):
            list_export = fields
            export_headings = {}

            def to_row_dict(self, item):
                values = naive([getattr(item, field) for field in fields])
                return dict(zip(fields, values, strict=True))

        def wagtail_xlsx() -> int:
            with tempfile.TemporaryFile() as output:
                Wagtails().write_xlsx(clients.all(), output)
            return args.rows

        old = measure("Wagtail's own XLSX export (queryset cached)", wagtail_xlsx)

        def openpyxl_only() -> int:
            from openpyxl import Workbook

            book = Workbook(write_only=True)
            sheet = book.create_sheet()
            for row in clients.values_list(*fields).iterator(chunk_size=2000):
                sheet.append(naive(row))
            with tempfile.TemporaryFile() as output:
                book.save(output)
            return args.rows

        def xlsxwriter_only() -> int:
            import xlsxwriter

            with tempfile.TemporaryFile() as output:
                book = xlsxwriter.Workbook(
                    output, {"constant_memory": True, "remove_timezone": True}
                )
                sheet = book.add_worksheet()
                for number, row in enumerate(
                    clients.values_list(*fields).iterator(chunk_size=2000)
                ):
                    sheet.write_row(number, 0, naive(row))
                book.close()
            return args.rows

        pyxl = measure("openpyxl write-only (writer alone)", openpyxl_only)
        xw = measure("XlsxWriter constant_memory (writer alone)", xlsxwriter_only)

        print(
            f"XLSX memory growth now / Wagtail's: {xlsx_now['growth']:.1f} / {old['growth']:.1f} MB"
        )
        faster = "XlsxWriter" if xw["seconds"] < pyxl["seconds"] else "openpyxl"
        print(f"faster writer: {faster} ({pyxl['seconds'] / xw['seconds']:.2f} x openpyxl's time)")
        verdict = "OK" if xlsx_now["growth"] < LIMIT_MB and csv_now["growth"] < LIMIT_MB else "OVER"
        print(f"admin exports' growth under {LIMIT_MB} MB: {verdict}")


if __name__ == "__main__":
    main()
