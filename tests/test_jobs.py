"""Imports and exports as jobs run by a worker (mailings/jobs.py): the export handed to a
worker above a threshold gives the same file as one answered at once; one import at a time;
progress; the sweep that restarts a job whose worker stopped; files kept for a day and
reachable through the policy only."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from mailings import jobs
from mailings.models import Client, Job
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    DeliveryFactory,
    MailingFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "jobs"


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def upload(text: str, name: str = "clients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def a_few_clients(owner, count: int = 5):
    for n in range(count):
        ClientFactory(owner=owner, email=f"c{n}@example.org", full_name=f"Client {n}")
    ClientFactory(owner=owner, email="evil@example.org", full_name="=HYPERLINK(1)")


def test_a_big_export_is_a_job_whose_file_equals_the_export_answered_at_once(
    client, owner, settings, files, committed
):
    a_few_clients(owner)
    ClientFactory(owner=UserFactory(role="Users"), email="theirs@example.org")
    at_once = b"".join(client.get("/admin/mailings/clients/?export=csv&q=example"))
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 3

    handed = committed(client.get, "/admin/mailings/clients/?export=csv&q=example")
    page = client.get(handed["Location"]).content.decode()
    job = Job.objects.get(owner=owner)
    download = client.get(f"/admin/mailings/jobs/download/{job.pk}/")
    body = b"".join(download)

    assert handed.status_code == 302 and handed["Location"].endswith(f"/inspect/{job.pk}/")
    assert job.state == "done" and (job.rows, job.total) == (6, 6)
    assert f'href="/admin/mailings/jobs/download/{job.pk}/"' in page
    assert "6 of 6 rows written" in page
    assert download["Content-Disposition"] == 'attachment; filename="clients.csv"'
    assert body == at_once
    rows = csv_rows(body)
    assert len(rows) == 7 and "theirs@example.org" not in body.decode()
    assert rows[1][:2] == ["'=HYPERLINK(1)", "evil@example.org"]


def test_a_big_xlsx_export_opens_with_the_rows_of_the_filter(
    client, owner, settings, files, committed
):
    a_few_clients(owner)
    ClientFactory(owner=owner, email="gone@example.org", unsubscribed_at=timezone.now())
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 1

    committed(client.get, "/admin/mailings/clients/?export=xlsx&status=subscribed")
    job = Job.objects.get(owner=owner)
    body = b"".join(client.get(f"/admin/mailings/jobs/download/{job.pk}/"))
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    emails = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]

    assert job.name == "clients.xlsx" and job.rows == 6
    assert sorted(emails) == sorted(
        Client.objects.filter(owner=owner, unsubscribed_at__isnull=True).values_list(
            "email", flat=True
        )
    )
    assert "gone@example.org" not in emails


def test_a_runs_deliveries_and_the_failed_deliveries_export_as_jobs(
    client, owner, settings, files, committed
):
    attempt = AttemptFactory(mailing=MailingFactory(owner=owner))
    for n in range(4):
        DeliveryFactory(attempt=attempt, email=f"d{n}@example.org", status="failed")
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 2

    for hours in (1, 2):
        AttemptFactory(
            mailing=attempt.mailing, scheduled_for=timezone.now() - timedelta(hours=hours)
        )
    run = committed(client.get, f"/admin/mailings/attempts/inspect/{attempt.pk}/?export=csv")
    failed = committed(client.get, "/admin/mailings/failed-deliveries/?export=csv")
    runs = committed(client.get, "/admin/mailings/attempts/?export=xlsx")
    run_job, failed_job, runs_job = Job.objects.order_by("pk")

    assert run.status_code == failed.status_code == runs.status_code == 302
    assert runs_job.name == "attempts.xlsx" and runs_job.rows == 3
    assert run_job.name == f"run-{attempt.pk}-deliveries.csv" and run_job.rows == 4
    assert failed_job.name == "failed-deliveries.csv" and failed_job.rows == 4
    run_rows = csv_rows(b"".join(client.get(f"/admin/mailings/jobs/download/{run_job.pk}/")))
    assert sorted(row[0] for row in run_rows[1:]) == [f"d{n}@example.org" for n in range(4)]


def test_a_manager_s_export_of_every_mailing_is_the_manager_s_own_job(
    client, settings, files, committed
):
    for n in range(3):
        MailingFactory(owner=UserFactory(role="Users"), name=f"Mailing {n}")
    manager = UserFactory(role="Managers")
    client.force_login(manager)
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 2

    committed(client.get, "/admin/mailings/mailings/?export=csv")
    job = Job.objects.get()
    body = b"".join(client.get(f"/admin/mailings/jobs/download/{job.pk}/")).decode()

    assert job.owner == manager and job.rows == 3
    assert all(f"Mailing {n}" in body for n in range(3))


def test_a_small_export_is_answered_at_once(client, owner, files):
    a_few_clients(owner)

    response = client.get("/admin/mailings/clients/?export=csv")

    assert response.status_code == 200 and not Job.objects.exists()


def test_an_export_no_longer_allowed_when_it_runs_fails_and_writes_nothing(
    client, owner, settings, files
):
    a_few_clients(owner)
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 1
    client.get("/admin/mailings/clients/?export=csv")  # queued; no worker yet
    job = Job.objects.get()
    owner.is_active = False  # blocked meanwhile
    owner.save()

    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error and not job.size
    assert list(files.iterdir()) == []


def test_one_import_at_a_time(client, owner, files):
    first = client.post(
        "/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n")}
    )
    second = client.post(
        "/admin/mailings/clients/import/", {"file": upload("email,name\nb@x.org,B\n")}
    )

    assert first.status_code == 302
    assert second.status_code == 409
    assert "Another import of yours is still running" in second.content.decode()
    assert Job.objects.count() == 1 and len(list(files.iterdir())) == 1
    # Another user is not held up.
    other = UserFactory(role="Users")
    client.force_login(other)
    assert (
        client.post(
            "/admin/mailings/clients/import/", {"file": upload("email,name\nc@x.org,C\n")}
        ).status_code
        == 302
    )


def test_the_import_page_lists_recent_imports_and_the_job_page_follows_the_worker(
    client, owner, files
):
    client.post(
        "/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n", "mine.csv")}
    )
    job = Job.objects.get()

    listed = client.get("/admin/mailings/clients/import/").content.decode()
    waiting = client.get(f"/admin/mailings/jobs/inspect/{job.pk}/").content.decode()
    progress = client.get(f"/admin/mailings/jobs/progress/{job.pk}/").json()
    jobs.run(job.pk)
    finished = client.get(f"/admin/mailings/jobs/progress/{job.pk}/").json()

    assert f'href="/admin/mailings/jobs/inspect/{job.pk}/"' in listed and "mine.csv" in listed
    assert f'data-live-progress="/admin/mailings/jobs/progress/{job.pk}/"' in waiting
    assert progress["finished"] is False and progress["status"] == "Waiting"
    assert finished == {
        "finished": True,
        "status": "Done",
        "situation": "",
        "percent": 100,
        "counts": "1 created, 0 updated, 0 merged, 0 invalid",
        "server_response": "—",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"name,phone\nAnn,1\n", "'email' column"),
        (b"\xff\xfe\x00e\x00m", "'email' column"),
    ],
)
def test_an_unreadable_header_is_a_form_error_before_any_job(
    client, owner, files, content, message
):
    response = client.post(
        "/admin/mailings/clients/import/", {"file": SimpleUploadedFile("c.csv", content)}
    )

    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()
    assert not Job.objects.exists()


def test_a_file_broken_further_down_fails_the_job_and_changes_nothing(client, owner, files):
    rows = "".join(f"c{n}@example.org,C{n}\n" for n in range(50))
    client.post(
        "/admin/mailings/clients/import/",
        {"file": upload("email,name\n" + rows + 'bad@example.org,"open\n')},
    )
    job = Job.objects.get()

    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert "Line 52 cannot be read" in job.error
    assert not Client.objects.exists() and list(files.iterdir()) == []
    page = client.get(f"/admin/mailings/jobs/inspect/{job.pk}/").content.decode()
    assert "Line 52 cannot be read" in page


def test_a_worker_that_lost_its_lease_writes_nothing(client, owner, files):
    client.post("/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n")})
    job = Job.objects.get()
    Job.objects.filter(pk=job.pk).update(state="running", tries=2)  # another worker took it
    job.refresh_from_db()
    job.tries = 1  # ... from this one

    with pytest.raises(jobs.LeaseLostError):
        jobs._import(job)

    assert not Client.objects.exists()
    assert Job.objects.get(pk=job.pk).state == "running"


def test_the_sweep_restarts_a_job_whose_worker_stopped_then_gives_up(client, owner, files):
    client.post("/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n")})
    job = Job.objects.get()
    later = timezone.now() + jobs.LEASE + timedelta(seconds=1)
    # A worker took it and died: its lease runs out.
    Job.objects.filter(pk=job.pk).update(state="running", tries=1, lease_until=timezone.now())

    assert jobs.sweep(later) == [job.pk]
    assert jobs.run(job.pk) == "done"
    assert Client.objects.filter(owner=owner).count() == 1

    client.post("/admin/mailings/clients/import/", {"file": upload("email,name\nb@x.org,B\n")})
    stuck = Job.objects.get(state="queued")
    Job.objects.filter(pk=stuck.pk).update(
        state="running", tries=jobs.MAX_TRIES, lease_until=timezone.now()
    )
    assert jobs.sweep(later) == []
    stuck.refresh_from_db()
    assert stuck.state == "failed" and "nothing was changed" in stuck.error
    assert Client.objects.filter(owner=owner).count() == 1
    assert list(files.iterdir()) == []
    jobs.sweep(later + jobs.KEPT + timedelta(minutes=1))  # a day on, it still says why
    stuck.refresh_from_db()
    assert stuck.state == "failed" and "nothing was changed" in stuck.error


def test_an_export_s_file_is_removed_after_a_day(client, owner, settings, files, committed):
    a_few_clients(owner)
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 1
    committed(client.get, "/admin/mailings/clients/?export=csv")
    job = Job.objects.get()
    assert len(list(files.iterdir())) == 1

    jobs.sweep(timezone.now() + jobs.KEPT - timedelta(minutes=1))
    assert len(list(files.iterdir())) == 1
    jobs.sweep(timezone.now() + jobs.KEPT + timedelta(minutes=1))

    job.refresh_from_db()
    assert job.state == "expired" and list(files.iterdir()) == []
    assert client.get(f"/admin/mailings/jobs/download/{job.pk}/").status_code == 404


@pytest.mark.parametrize("path", ["../secret", "/etc/passwd", ".hidden", "a/b.csv", ""])
def test_a_job_s_file_is_only_ever_under_the_jobs_folder(files, owner, path):
    job = Job(owner=owner, kind="export", path=path)

    assert jobs.file_of(job) is None


@pytest.mark.parametrize(
    "url",
    [
        "/admin/mailings/jobs/inspect/99999999/",
        "/admin/mailings/jobs/progress/99999999/",
        "/admin/mailings/jobs/download/99999999/",
        "/admin/mailings/jobs/?ordering=%00",
        "/admin/mailings/jobs/?p=99999",
    ],
)
def test_garbage_job_urls_are_not_found_or_harmless(client, owner, url):
    assert client.get(url).status_code in (200, 404)


def test_an_import_file_name_is_shown_without_its_folders_or_control_characters(
    client, owner, files
):
    client.post(
        "/admin/mailings/clients/import/",
        {"file": upload("email,name\na@x.org,A\n", "C:\\Users\\me\\clients\u202e.csv")},
    )

    assert Job.objects.get().name == "clients\u202e.csv".replace("\u202e", "")


def test_apply_on_an_import_that_is_not_waiting_says_so(client, owner, files, through_worker):
    page = through_worker(
        client, "/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n")}
    )
    job = Job.objects.get()

    again = client.post(f"/admin/mailings/jobs/apply/{job.pk}/", follow=True).content.decode()

    assert "1 client created" in page.content.decode()
    assert "no longer waiting" in again
    assert re.search(r"data-job-state=\"done\"", again)


def test_with_the_broker_down_an_import_waits_and_the_sweep_hands_it_out_again(
    client, owner, files, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/mailings/clients/import/", {"file": upload("email,name\na@x.org,A\n")}
        )
    job = Job.objects.get()

    assert response.status_code == 302 and job.state == "queued"
    assert jobs.sweep() == []  # within its lease: a worker may still be about to take it
    assert jobs.sweep(timezone.now() + jobs.LEASE + timedelta(seconds=1)) == [job.pk]
