"""Imports through real worker processes, killed with SIGKILL in the middle: the client
table is either untouched or complete, never half a file, and the job ends as docs/jobs.md
promises (queued again by the beat's sweep once the dead worker's lease has run out, then
done).

The file has 200,000 rows; ``IMPORT_KILL_ROWS=1000000`` runs the same test on a million
(about a minute more on PostgreSQL)."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from mailings import jobs, services, tasks
from mailings.models import Client
from site_config.celery import app
from tests.factories import ClientFactory, UserFactory
from tests.support.processes import (
    celery_worker,
    database_url_for_processes,
    use_default_queue,
    wait_until,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROWS = int(os.environ.get("IMPORT_KILL_ROWS", "200000"))


def write_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email;full_name;comment\n")
        for n in range(rows):
            out.write(f"client{n}@example.org;Client {n};row {n}\n")


def merging_now() -> bool:
    """Whether a session of this database is in the import's merge (PostgreSQL's own view of
    what each connection is running). Of this database only: another copy of the suite
    running at the same time, on its own database of the same server, merges too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s"
            " AND datname = current_database() AND pid <> pg_backend_pid()",
            ["%mailings_import_merged%"],
        )
        return cursor.fetchone()[0] > 0


# Where the kill lands: while the file is read and copied, or (PostgreSQL, which shows
# another session's statement in pg_stat_activity) in the merge's transaction.
MOMENTS = ["reading"] + (
    ["merging"] if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else []
)


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_worker_killed_mid_import_changes_nothing_and_the_job_then_completes(tmp_path, moment):
    queue = f"test-{uuid.uuid4().hex[:10]}"
    env = {"DATABASE_URL": database_url_for_processes(), "TEST_CELERY_QUEUE": queue}
    saved_queue = app.conf.task_default_queue
    use_default_queue(queue)
    workers = []
    try:
        owner = UserFactory(role="Users")
        kept = ClientFactory(owner=owner, email="kept@example.org", full_name="Kept")
        source = tmp_path / "clients.csv"
        write_file(source, ROWS)
        with source.open("rb") as upload:
            job = services.import_start(owner=owner, upload=upload, client_list=None)

        def state():
            job.refresh_from_db()
            return job

        workers.append(celery_worker(queue=queue, env=env))
        if moment == "reading":
            reached = wait_until(lambda: state().rows >= 20_000, timeout=300, interval=0.05)
        else:
            reached = wait_until(merging_now, timeout=600, interval=0.02)
        assert reached, workers[0].output()[-3000:]
        workers[0].stop(signal.SIGKILL)

        after_kill = Client.objects.filter(owner=owner).count()
        outcome = {1: "untouched", ROWS + 1: "complete"}.get(after_kill, f"HALF ({after_kill})")
        assert after_kill in (1, ROWS + 1), outcome
        assert state().state == ("running" if after_kill == 1 else "done")

        # The beat's sweep, once the dead worker's lease has run out.
        again = jobs.sweep(timezone.now() + jobs.LEASE + timedelta(seconds=1))
        assert again == ([job.pk] if after_kill == 1 else [])
        for job_id in again:
            tasks.enqueue(tasks.run_job, job_id)
        workers.append(celery_worker(queue=queue, env=env))
        assert wait_until(lambda: state().finished, timeout=900), workers[-1].output()[-3000:]
    finally:
        use_default_queue(saved_queue)
        for worker in workers:
            worker.stop()

    print(
        f"\nkill -9 while {moment} ({ROWS:,} rows, {connection.vendor}): the client table was "
        f"{outcome} after the kill; after the restart the job is {job.state} "
        f"(try {job.tries}): {job.created:,} created"
    )
    assert (job.state, job.created, job.invalid) == ("done", ROWS, 0)
    assert Client.objects.filter(owner=owner).count() == ROWS + 1
    kept.refresh_from_db()
    assert kept.full_name == "Kept"
    assert not list(Path(jobs.folder()).glob(job.path or "none"))
