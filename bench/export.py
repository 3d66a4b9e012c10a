"""Benchmark: exporting a big client list, CSV and XLSX, in bounded memory.

For ``--rows`` clients of one user (100,000 by default; 1,000,000 with ``--rows 1000000``;
every 100th unsubscribed, every 1,000th named like a formula), the export of the subscribed
ones (``?status=subscribed``) as the service runs it: the **web** request hands it to a worker
(a count, a job row) and the **worker** (``jobs.run``) writes the file; then each file is
opened (``csv``; openpyxl read-only, and the sheet's XML searched for a formula) and must hold
exactly the rows of the filter, every formula written as text. Then, in the same run, the
admin's exports answered at once (the listing's ``?export=csv`` streamed, ``?export=xlsx``
written to a spooled file; rows read 2,000 at a time) against Wagtail's own export of the same
queryset (every row cached by the queryset, the workbook in memory), and the two XLSX writers
in constant-memory mode on the same rows: openpyxl's write-only workbook and XlsxWriter's
``constant_memory``. Prints rows per second and the peak growth of resident memory of each.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/export.py

Target (issue 20): the worker's memory growth under 100 MB for both formats at 1M rows.
"""

from __future__ import annotations

import argparse
import csv
import gc
import tempfile
import time
import zipfile
from pathlib import Path

from _django import bench_database, reset_rss_peak, rss_now_kb, rss_peak_kb

LIMIT_MB = 100


def naive(row):
    """Excel has no time zones: dates as the admin's export writes them, without one."""
    return [v.replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo else v for v in row]


def seed(connection, owner, rows: int, now) -> None:
    """The clients, written by the database itself on PostgreSQL (the seeding's memory is not
    this process's, and does not hide what the exports grow it by); through the ORM on
    SQLite."""
    from mailings.models import Client

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO mailings_client (owner_id, email, full_name, comment, "
                "unsubscribed_at, created_at, updated_at) "
                "SELECT %s, 'r' || i || '@example.org', "
                "CASE WHEN i %% 1000 = 7 THEN '=HYPERLINK(\"http://x.example/' || i || '\")' "
                "ELSE 'Reader ' || i END, 'row ' || i, "
                "CASE WHEN i %% 100 = 3 THEN %s::timestamptz END, %s, %s "
                "FROM generate_series(0, %s - 1) AS i",
                [owner.pk, now, now, now, rows],
            )
        return
    Client.objects.bulk_create(
        (
            Client(
                owner=owner,
                email=f"r{i}@example.org",
                full_name=f'=HYPERLINK("http://x.example/{i}")' if i % 1000 == 7 else f"Reader {i}",
                comment=f"row {i}",
                unsubscribed_at=now if i % 100 == 3 else None,
            )
            for i in range(rows)
        ),
        batch_size=10_000,
    )


def check_files(csv_path: Path, xlsx_path: Path, expected: int, formulas: int) -> None:
    """Open both files as a reader would and count what they hold."""
    import openpyxl

    started = time.perf_counter()
    with csv_path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    escaped = sum(1 for row in rows if row[0].startswith("'=HYPERLINK"))
    bare = sum(1 for row in rows if row[0].startswith("=") or row[1].startswith("="))
    assert (len(rows), escaped, bare) == (expected, formulas, 0), (len(rows), escaped, bare)
    del rows
    book = openpyxl.load_workbook(xlsx_path, read_only=True)
    sheet = book.active
    count = texts = 0
    for row in sheet.iter_rows(min_row=2, values_only=True):
        count += 1
        texts += isinstance(row[0], str) and row[0].startswith("=HYPERLINK")
    book.close()
    with zipfile.ZipFile(xlsx_path) as archive, archive.open("xl/worksheets/sheet1.xml") as xml:
        tail, formula_cells = b"", 0
        while block := xml.read(1 << 20):
            formula_cells += (tail + block).count(b"<f>") - tail.count(b"<f>")
            tail = block[-8:]
    assert (count, texts, formula_cells) == (expected, formulas, 0), (count, texts, formula_cells)
    print(
        f"files checked in {time.perf_counter() - started:.0f} s: CSV and XLSX each hold the "
        f"{expected:,} subscribed clients; {formulas:,} names like formulas: escaped in CSV, "
        "text cells in XLSX (no <f> in the sheet)"
    )


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
        from django.utils import timezone
        from wagtail.admin.views.mixins import SpreadsheetExportMixin

        from mailings import jobs, tasks
        from mailings.admin.clients import ClientViewSet
        from mailings.models import Client, Job
        from tests.factories import UserFactory

        settings.ALLOWED_HOSTS = ["testserver"]
        owner = UserFactory(role="Users")
        now = timezone.now()
        seed(connection, owner, args.rows, now)
        expected = args.rows - len(range(3, args.rows, 100))
        formulas = len(range(7, args.rows, 1000))
        browser = Browser()
        browser.force_login(owner)
        settings.VAR_DIR = Path(tempfile.mkdtemp())
        tasks.enqueue = lambda *args, **kwargs: True  # the worker is this process, below
        print(f"database: {connection.vendor}; {args.rows:,} clients, {expected:,} subscribed")
        print(f"{'':<44} {'speed':>17} {'time':>9} {'peak RSS growth':>11}")
        as_jobs = {}
        for kind in ("csv", "xlsx"):
            url = f"/admin/mailings/clients/?export={kind}&status=subscribed"

            def hand_off(url=url) -> int:
                response = browser.get(url)
                assert response.status_code == 302, response.status_code
                return 1

            measure(f"web: {kind.upper()} export handed off (requests/s)", hand_off)
            job = Job.objects.filter(owner=owner).latest("pk")
            as_jobs[kind] = measure(
                f"worker: {kind.upper()} export job", lambda pk=job.pk: jobs.run(pk) and expected
            )
            job.refresh_from_db()
            assert job.state == "done" and job.rows == expected, (job.state, job.rows)
            as_jobs[kind]["file"] = jobs.file_of(job)
        check_files(as_jobs["csv"]["file"], as_jobs["xlsx"]["file"], expected, formulas)
        settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = args.rows + 1  # answered at once below
        clients = Client.objects.filter(owner=owner).order_by("full_name", "email")
        fields = ClientViewSet.list_export

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
        for kind, result in as_jobs.items():
            verdict = "OK" if result["growth"] < LIMIT_MB else "OVER"
            print(
                f"worker's growth for the {kind.upper()} job: {result['growth']:.1f} MB "
                f"(limit {LIMIT_MB} MB): {verdict}"
            )


if __name__ == "__main__":
    main()
