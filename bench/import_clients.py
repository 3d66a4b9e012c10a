"""Benchmark: a CSV import of clients as the service runs it, against the import before it.

For each size (100,000 rows by default; ``--sizes 100000,1000000``), in the same run:

- **web**: the upload request (``ClientImportView``: the form checks the header, the file is
  stored, the job row written): its time and the peak growth of resident memory;
- **worker**: the job (``jobs.run``: rows read and checked, copied into the database —
  ``COPY`` on PostgreSQL — and merged in set-based statements): rows per second and peak
  memory growth;
- **old path**: ``upserting.clients_import_by_chunks``, the import as it was (chunks of 1,000
  rows through the ORM, inside the request), on the same file for another user;

and the worker's speed as a multiple of the old path's. Every 50th row repeats an earlier
address, every 97th is not an address. Each import creates its clients from nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing \\
        .venv/bin/python bench/import_clients.py --sizes 100000,1000000

Targets (issue 20): the 1M import at least 5 times faster than the old path; the worker's
memory growth under 100 MB.
"""

from __future__ import annotations

import argparse
import csv
import gc
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _django import bench_database, reset_rss_peak, rss_now_kb, rss_peak_kb

MEMORY_LIMIT_MB = 100
SPEED_TARGET = 5.0


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["email", "full_name", "comment"])
        for i in range(rows):
            if i % 97 == 96:
                writer.writerow([f"broken-{i}", f"Broken {i}", ""])
            elif i % 50 == 49:
                writer.writerow([f"CLIENT{i - 10}@EXAMPLE.ORG", f"Client {i - 10} again", "dup"])
            else:
                writer.writerow([f"client{i}@example.org", f"Client {i}", f"imported row {i}"])


def measured(work):
    gc.collect()
    before = rss_now_kb()
    exact = reset_rss_peak()
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    return result, seconds, (rss_peak_kb() - before) / 1024, exact


def upload_request(owner, path: Path):
    """The request the browser makes, with the file as Django hands a big upload to a view:
    already streamed to a temporary file (the multipart parsing is Django's, not timed)."""
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.cache import SessionStore
    from django.core.files.uploadedfile import TemporaryUploadedFile
    from django.http import QueryDict
    from django.test import RequestFactory
    from django.utils.datastructures import MultiValueDict

    upload = TemporaryUploadedFile("clients.csv", "text/csv", path.stat().st_size, "utf-8")
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            upload.write(block)
    upload.seek(0)
    request = RequestFactory().post("/admin/mailings/clients/import/")
    request._post, request._files = QueryDict(), MultiValueDict({"file": [upload]})
    request._dont_enforce_csrf_checks = True
    request.user = owner
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--one", type=int, help="measure this size in this process")
    args = parser.parse_args()
    if args.one is None:
        # Each size in a fresh process: memory one import freed does not hide the next's.
        for size in args.sizes.split(","):
            subprocess.run([sys.executable, __file__, "--one", size], check=True)
        return
    sizes = [args.one]

    with bench_database() as connection, tempfile.TemporaryDirectory() as tmp:
        from django.conf import settings

        from mailings import jobs, tasks
        from mailings.admin.clients import ClientImportView
        from mailings.models import Client, Job
        from mailings.upserting import clients_import_by_chunks
        from tests.factories import UserFactory

        settings.VAR_DIR = Path(tmp)
        tasks.enqueue = lambda *args, **kwargs: True  # the worker is this process, below
        view = ClientImportView.as_view()
        print(f"database: {connection.vendor}")
        print(
            f"{'rows':>10} {'step':<10} {'rows/s':>10} {'seconds':>8} {'peak RSS growth':>16}"
            "  created/merged/invalid"
        )
        verdicts = []
        for size in sizes:
            path = Path(tmp) / f"clients-{size}.csv"
            write_csv(path, size)
            owner = UserFactory(role="Users")

            request = upload_request(owner, path)
            response, web_s, web_mb, _exact = measured(lambda r=request: view(r))
            assert response.status_code == 302, response.status_code
            job = Job.objects.get(owner=owner)
            state, job_s, job_mb, exact = measured(lambda pk=job.pk: jobs.run(pk))
            job.refresh_from_db()
            assert state == "done", (state, job.error)
            assert job.created == Client.objects.filter(owner=owner).count()

            other = UserFactory(role="Users")
            with path.open("rb") as handle:
                old, old_s, old_mb, _ = measured(
                    lambda o=other, f=handle: clients_import_by_chunks(owner=o, file=f)
                )
            assert (old.created, old.merged, old.invalid) == (
                job.created,
                job.merged,
                job.invalid,
            )
            note = "" if exact else "  (peak not resettable: upper bound)"
            counts = f"{job.created}/{job.merged}/{job.invalid}"
            print(f"{size:>10,} {'web':<10} {'':>10} {web_s:>8.2f} {web_mb:>13.1f} MB")
            print(
                f"{size:>10,} {'worker':<10} {size / job_s:>10,.0f} {job_s:>8.2f} "
                f"{job_mb:>13.1f} MB  {counts}{note}"
            )
            print(
                f"{size:>10,} {'old path':<10} {size / old_s:>10,.0f} {old_s:>8.2f} "
                f"{old_mb:>13.1f} MB  {old.created}/{old.merged}/{old.invalid}"
            )
            ratio = old_s / job_s
            print(f"{size:>10,} worker / old path: {ratio:.1f} x faster", flush=True)
            verdicts.append((size, ratio, job_mb))
        for size, ratio, job_mb in verdicts:
            fast = "OK" if ratio >= SPEED_TARGET or size < 1_000_000 else "UNDER"
            lean = "OK" if job_mb < MEMORY_LIMIT_MB else "OVER"
            print(
                f"{size:>10,}: {ratio:.1f} x the old path (target {SPEED_TARGET:.0f} x at 1M): "
                f"{fast}; worker memory {job_mb:.1f} MB (limit {MEMORY_LIMIT_MB} MB): {lean}"
            )


if __name__ == "__main__":
    main()
