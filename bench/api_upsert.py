"""Benchmark: the API's bulk upsert of clients against the admin's CSV import.

100,000 clients sent to ``POST /api/v1/clients/bulk/`` in batches of 1,000 (in-process
requests through Django's test client, with a Bearer token: routing, authentication,
throttling, parsing and the response included), and the same rows imported from a CSV file by
the admin's import as it was when the API came (``upserting.clients_import_by_chunks``: the
same ORM code as the upsert; the staged import of issue 20 is measured by
bench/import_clients.py), in the same run of this script. Prints
rows per second for each, their ratio, and the statements of the first and the last batch.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailing .venv/bin/python bench/api_upsert.py

Target (issue 19): the API at least 0.5 x the import, with constant statements per batch (a
batch that writes the token's last-used time, at most once a minute, has one more).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from _django import bench_database

TARGET = 0.5
BATCH = 1000


def rows(count: int, prefix: str) -> list[dict]:
    return [
        {"email": f"{prefix}{i}@example.org", "full_name": f"Reader {i}", "comment": f"row {i}"}
        for i in range(count)
    ]


def through_the_api(owner, entries: list[dict]) -> tuple[float, list[int]]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import APIToken

    token = APIToken.create_token(user=owner, name="bench")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    statements = []
    started = time.perf_counter()
    for start in range(0, len(entries), BATCH):
        body = json.dumps({"clients": entries[start : start + BATCH]})
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/api/v1/clients/bulk/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        statements.append(len(queries.captured_queries))
    return time.perf_counter() - started, statements


def through_the_import(owner, entries: list[dict], folder: Path) -> float:
    from mailings.upserting import clients_import_by_chunks

    path = folder / "clients.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["email", "full_name", "comment"])
        writer.writeheader()
        writer.writerows(entries)
    started = time.perf_counter()
    with path.open("rb") as handle:
        report = clients_import_by_chunks(owner=owner, file=handle)
    assert report.created == len(entries), report
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    with bench_database() as connection, tempfile.TemporaryDirectory() as tmp:
        from django.conf import settings

        from mailings.api.throttling import TokenRateThrottle
        from tests.factories import UserFactory

        settings.ALLOWED_HOSTS = ["testserver"]
        TokenRateThrottle.THROTTLE_RATES = {"api": "100000/min"}  # measure the work, not the limit
        imported = through_the_import(UserFactory(role="Users"), rows(args.rows, "csv"), Path(tmp))
        api_seconds, statements = through_the_api(UserFactory(role="Users"), rows(args.rows, "api"))

        api_rate, import_rate = args.rows / api_seconds, args.rows / imported
        ratio = api_rate / import_rate
        print(f"database: {connection.vendor}; {args.rows:,} clients, API batches of {BATCH:,}")
        print(f"admin CSV import: {import_rate:,.0f} rows/s ({imported:.1f} s)")
        print(f"API bulk upsert:  {api_rate:,.0f} rows/s ({api_seconds:.1f} s)")
        print(
            f"statements per batch: first {statements[0]}, last {statements[-1]}, "
            f"range {min(statements)}-{max(statements)}"
        )
        # A batch that writes the token's last-used time (at most once a minute) has one more.
        constant = max(statements) - min(statements) <= 1
        verdict = "OK" if ratio >= TARGET and constant else "OFF TARGET"
        print(f"ratio API / import: {ratio:.2f} (target at least {TARGET}): {verdict}")


if __name__ == "__main__":
    main()
