"""Imports and exports that run in a worker: one ``Job`` row each, whose counts the job's
page polls while it runs (docs/jobs.md).

A job is ``queued`` when its file is stored and its task published (mailings/services.py
starts them), ``running`` while a worker holds its lease, then ``done``, ``failed`` or, for
an import that would change clients already stored, ``review`` (nothing written; its owner
applies it, and it runs again). A worker keeps its lease fresh as it goes; a job whose
lease ran out (its worker died) is queued again by ``sweep`` from the beat, at most
``MAX_TRIES`` times, and starts over from its stored file. An import writes to the clients in
one transaction at its very end, together with its own outcome: a worker killed before that
changed nothing, one killed after it had finished. Files live under ``VAR_DIR/jobs`` and
are reached only through the job's page, which asks the permission policy.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import F, Q
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import resolve
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mailings.importing import ImportFileError, ImportReport, clients_import
from mailings.models import Job

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # renewed at every batch of rows; a dead worker's job waits this
MAX_TRIES = 3
KEPT = timedelta(days=1)  # an export's file, and an import waiting for its owner's review
COPY_BLOCK = 1 << 20


class LeaseLostError(Exception):
    """This worker lost the job's lease to another (it was thought dead): it stops, and
    what it did is rolled back."""


def folder() -> Path:
    path = Path(settings.VAR_DIR) / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_file(suffix: str) -> str:
    """A fresh file name under ``folder()`` (random: the name is no key to anything)."""
    return f"{uuid.uuid4().hex}{suffix}"


def file_of(job: Job) -> Path | None:
    if not job.path or "/" in job.path or "\\" in job.path or job.path.startswith("."):
        return None
    return folder() / job.path


def background_from() -> int:
    """Exports of at least this many rows run as jobs; smaller ones are answered at once."""
    return settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM


def run(job_id: int) -> str | None:
    """Run a queued job in this worker; returns the state it ended in (None: it was not
    queued, e.g. another worker took it)."""
    now = timezone.now()
    taken = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING,
        tries=F("tries") + 1,
        lease_until=now + LEASE,
        started_at=now,
        rows=0,
        done_bytes=0,
        invalid=0,
    )
    if not taken:
        return None
    job = Job.objects.select_related("owner", "client_list").get(pk=job_id)
    try:
        with translation.override(_language_of(job)):
            if job.kind == Job.Kind.IMPORT:
                _import(job)
            else:
                _export(job)
    except LeaseLostError:
        logger.warning("job %s: taken over by another worker; this one stopped", job_id)
        return None
    except ImportFileError as exc:
        _finish(job, Job.State.FAILED, error=str(exc))
    except OperationalError:
        # The database went away: the job waits for the sweep to queue it again.
        logger.exception("job %s: database unavailable; it runs again after its lease", job_id)
        return None
    except Exception:  # whatever broke, the job says so and the worker goes on
        logger.exception("job %s failed", job_id)
        _finish(job, Job.State.FAILED, error=_("An unexpected error stopped it."))
    job.refresh_from_db(fields=["state"])
    return job.state


def _language_of(job: Job) -> str:
    """The language of the request that started the job: its messages are written in it."""
    return job.params.get("language") or settings.LANGUAGE_CODE


def _mine(job: Job):
    """The job's row, while this worker still holds it."""
    return Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, tries=job.tries)


def _finish(job: Job, state: str, **fields) -> None:
    now = timezone.now()
    if state == Job.State.FAILED:
        fields.setdefault("expires_at", now + KEPT)
    if not _mine(job).update(state=state, finished_at=now, lease_until=None, **fields):
        raise LeaseLostError
    if job.kind == Job.Kind.IMPORT and state != Job.State.REVIEW:
        _remove_file(job)


def _remove_file(job: Job) -> None:
    path = file_of(job)
    if path is not None:
        path.unlink(missing_ok=True)


# --- Imports ----------------------------------------------------------------------------------


def _import(job: Job) -> None:
    path = file_of(job)
    if path is None or not path.exists():
        _finish(job, Job.State.FAILED, error=_("The uploaded file is gone. Upload it again."))
        return

    def progress(rows: int, invalid: int, position: int, merging: bool) -> None:
        # Inside the import's final transaction when ``merging``: this update also locks the
        # job's row until the clients are written, so the sweep cannot take it meanwhile.
        renewed = _mine(job).update(
            rows=rows,
            invalid=invalid,
            done_bytes=position,
            lease_until=timezone.now() + LEASE,
        )
        if not renewed:
            raise LeaseLostError

    def merged(report: ImportReport) -> None:
        state = Job.State.REVIEW if report.held else Job.State.DONE
        _finish(
            job,
            state,
            created=report.created,
            updated=report.updated,
            merged=report.merged,
            invalid=report.invalid,
            changed=report.changed,
            report={
                "errors": report.errors,
                "errors_truncated": report.errors_truncated,
                "ignored_columns": report.ignored_columns,
                "encoding": report.encoding,
                "changes": report.changes,
            },
            expires_at=timezone.now() + KEPT if state == Job.State.REVIEW else None,
        )

    with path.open("rb") as file:
        clients_import(
            owner=job.owner,
            file=file,
            client_list=job.client_list,
            hold_changes=not job.params.get("apply"),
            progress=progress,
            merged=merged,
        )


# --- Exports ----------------------------------------------------------------------------------


def _export(job: Job) -> None:
    """Ask the admin view the export came from, as its owner, in their language and time
    zone, and write its answer to the job's file: the same rows, columns and permission
    checks as an export answered at once (the view writes straight to the file because the
    request says it is this job's)."""
    params = job.params
    request = RequestFactory().get(params["path"], QueryDict(params["query"]))
    request.user = job.owner
    request.export_job = job
    counted = {"rows": 0}

    def progress(rows: int) -> None:
        counted["rows"] += rows
        if not _mine(job).update(rows=counted["rows"], lease_until=timezone.now() + LEASE):
            raise LeaseLostError

    request.export_progress = progress
    _remove_file(job)  # what a worker that stopped had written
    job.path = new_file("." + params["format"])
    Job.objects.filter(pk=job.pk).update(path=job.path)
    target = file_of(job)
    with translation.override(params["language"]), timezone.override(params["zone"]):
        match = resolve(params["path"])
        response = match.func(request, *match.args, **match.kwargs)
        if response.status_code != 200:
            _finish(job, Job.State.FAILED, error=_("The export is no longer allowed."))
            return
        try:
            with target.open("wb") as out:
                if response.streaming:
                    for block in response.streaming_content:
                        out.write(block)
                else:
                    out.write(response.content)
        finally:
            # Not ``response.close()``: that says "request finished", and Django then closes
            # this worker's database connection.
            stream = getattr(response, "file_to_stream", None)
            if stream is not None:
                stream.close()
    _finish(
        job,
        Job.State.DONE,
        rows=counted["rows"],
        size=target.stat().st_size,
        expires_at=timezone.now() + KEPT,
    )


# --- The beat's sweep -------------------------------------------------------------------------


def sweep(now=None) -> list[int]:
    """Queue again the jobs whose worker stopped (lease run out), fail those that stopped
    ``MAX_TRIES`` times, and remove files past their day. Returns the ids to publish again."""
    now = now or timezone.now()
    stale = Q(state__in=Job.BUSY, lease_until__lt=now)
    again = []
    for job in Job.objects.filter(stale).only("pk", "tries", "kind", "path", "params"):
        with transaction.atomic():
            if job.tries >= MAX_TRIES:
                with translation.override(_language_of(job)):
                    error = _("The worker stopped %(tries)s times; nothing was changed.") % {
                        "tries": job.tries
                    }
                failed = Job.objects.filter(stale, pk=job.pk).update(
                    state=Job.State.FAILED, finished_at=now, expires_at=now + KEPT, error=error
                )
                if failed and job.kind == Job.Kind.IMPORT:
                    _remove_file(job)
            elif Job.objects.filter(stale, pk=job.pk).update(
                state=Job.State.QUEUED, lease_until=now + LEASE
            ):
                again.append(job.pk)
    for job in Job.objects.filter(expires_at__lt=now).exclude(state=Job.State.EXPIRED):
        _remove_file(job)
        if job.state in (Job.State.DONE, Job.State.REVIEW):  # its file was the point
            Job.objects.filter(pk=job.pk, state=job.state).update(state=Job.State.EXPIRED)
        else:  # a failed job keeps saying why
            Job.objects.filter(pk=job.pk).update(expires_at=None)
    return again


def copy_upload(upload, target: Path) -> int:
    """An uploaded file into ``target``, a block at a time; returns its size."""
    size = 0
    upload.seek(0)
    with target.open("wb") as out:
        for block in (
            upload.chunks(COPY_BLOCK)
            if hasattr(upload, "chunks")
            else iter(lambda: upload.read(COPY_BLOCK), b"")
        ):
            out.write(block)
            size += len(block)
    return size
