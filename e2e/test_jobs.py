"""Journeys of issue 20: a 50,000-row import goes to a worker; its page follows the worker
without a reload; the owner leaves, comes back through the import page's recent imports and
reads the report, whose counts are the database's. A big export is written by the worker
and downloaded from its page."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection, transaction
from playwright.sync_api import expect

from e2e.helpers import log_in, open_menu_item
from mailings.models import Client, Job
from tests.factories import ClientFactory, UserFactory
from tests.support.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROWS = 50_000


def write_file(path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("E-mail;ФИО;Примечание\n")
        for n in range(ROWS):
            if n % 1000 == 999:
                out.write(f"not-an-address-{n};Broken;\n")
            elif n % 100 == 99:
                out.write(f"CLIENT{n - 50}@example.org;Клиент {n - 50} снова;\n")
            else:
                out.write(f"client{n}@example.org;Клиент {n};строка {n}\n")


def test_a_big_import_runs_in_the_background_and_its_report_waits_for_the_owner(
    open_page, start_worker, tmp_path
):
    owner = UserFactory(role="Users", email="importer@shop.example")
    source = tmp_path / "big-list.csv"
    write_file(source)
    page = open_page("owner")
    log_in(page, owner.email)
    open_menu_item(page, "Mailings", "Clients")
    page.get_by_role("link", name="Import CSV").first.click()
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Import").click()
    # No worker yet: the import waits, and its page says so.
    status = page.locator("[data-field=status]")
    expect(status).to_have_text("Waiting")
    bar = page.locator("[data-field=progress] progress")
    expect(bar).to_have_attribute("value", "0")
    page.evaluate("window.sameDocument = true")

    # The clients table is held while the browser watches: the worker reads and copies the
    # whole file (the progress moves), then waits to write; it goes on when this lets go.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("LOCK TABLE mailings_client IN SHARE ROW EXCLUSIVE MODE")
        start_worker()
        expect(bar).to_have_attribute("value", "90", timeout=120_000)
        expect(page.locator("[data-count-line]")).to_contain_text("50,000 rows read, 50 invalid")
        expect(status).to_contain_text("merging into your clients")
        assert page.evaluate("window.sameDocument") is True  # moved without a reload
        job = Job.objects.get(owner=owner)
        assert job.state == "running" and not Client.objects.filter(owner=owner).exists()
        open_menu_item(page, "Mailings", "Clients")  # leaves
    assert wait_until(lambda: Job.objects.get(pk=job.pk).finished, timeout=120)

    open_menu_item(page, "Mailings", "Clients")
    page.get_by_role("link", name="Import CSV").first.click()
    recent = page.locator("[data-recent-imports]")
    expect(recent).to_contain_text("big-list.csv")
    expect(recent).to_contain_text("Done")
    recent.get_by_role("link", name="big-list.csv").click()
    report = page.locator("[data-import-report]")
    expect(report).to_be_visible()

    stored = Client.objects.filter(owner=owner).count()
    job.refresh_from_db()
    assert (job.created, job.merged, job.invalid) == (stored, ROWS - stored - 50, 50)
    expect(report.locator("[data-report=created]")).to_have_text(f"{stored} clients created")
    expect(report.locator("[data-report=merged]")).to_have_text(
        f"{job.merged} duplicate rows merged"
    )
    expect(report.locator("[data-report=invalid]")).to_have_text("50 invalid rows skipped")
    expect(report.get_by_role("row")).to_have_count(51)  # a header and the 50 lines


def test_a_big_export_is_written_by_the_worker_and_downloaded_from_its_page(
    open_page, worker, settings
):
    settings.MAILINGS_EXPORT_IN_BACKGROUND_FROM = 100
    owner = UserFactory(role="Users", email="exporter@shop.example")
    for n in range(150):
        ClientFactory(owner=owner, email=f"reader{n}@example.org", full_name=f"Reader {n}")
    ClientFactory(owner=owner, email="formula@example.org", full_name="=1+1")
    page = open_page("owner")
    log_in(page, owner.email)
    open_menu_item(page, "Mailings", "Clients")
    page.goto(page.url + "?export=csv")

    download_link = page.locator("[data-download]")
    expect(download_link).to_be_visible(timeout=60_000)  # the page reloads itself when done
    with page.expect_download() as waiting:
        download_link.click()
    body = waiting.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))

    assert len(rows) == 152
    assert rows[1][:2] == ["'=1+1", "formula@example.org"]
