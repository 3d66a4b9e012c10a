"""Reports: failed deliveries per user (everyone's for managers), filtered and exported."""

import csv
import io

import pytest
from django.utils import timezone

from mailings.ledger import recount
from mailings.models import Attempt, Delivery
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    DeliveryFactory,
    MailingFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = "/admin/mailings/failed-deliveries/"


def run_with(mailing, outcomes, *, tag=""):
    attempt = AttemptFactory(mailing=mailing, scheduled_for=timezone.now(), status="failure")
    for n, status in enumerate(outcomes):
        reader = ClientFactory(owner=mailing.owner, email=f"m{mailing.pk}-{n}{tag}@example.org")
        DeliveryFactory(
            attempt=attempt,
            client=reader,
            status=status,
            smtp_code=550 if status == "failed" else 250,
            response="permanent: 550 No such user" if status == "failed" else "250 OK",
        )
    recount(attempt.pk)  # the engine's own recount
    return attempt


@pytest.fixture
def ledger():
    alice, bob = UserFactory(role="Users"), UserFactory(role="Users")
    a1, a2 = MailingFactory(owner=alice), MailingFactory(owner=alice)
    b1 = MailingFactory(owner=bob)
    run_with(a1, ["sent", "failed", "failed"])
    run_with(a2, ["failed", "sent"])
    run_with(b1, ["failed"])
    return alice, bob, a1, a2, b1


def exported(client, query):
    response = client.get(URL + query)
    rows = list(csv.reader(io.StringIO(b"".join(response).decode("utf-8-sig"))))
    return rows[0], rows[1:]


def test_a_user_sees_and_exports_exactly_their_failed_deliveries(client, ledger):
    alice, _, a1, _, _ = ledger
    client.force_login(alice)

    html = client.get(URL).content.decode()
    header, rows = exported(client, "?export=csv")
    _, only_a1 = exported(client, f"?export=csv&mailing={a1.pk}")

    expected = set(
        Delivery.objects.filter(attempt__mailing__owner=alice, status="failed").values_list(
            "email", flat=True
        )
    )
    assert header[0] == "Recipient"
    assert {row[0] for row in rows} == expected and len(rows) == 3
    assert {row[0] for row in only_a1} == {f"m{a1.pk}-1@example.org", f"m{a1.pk}-2@example.org"}
    assert all(row[3] == "550" for row in rows)
    assert all(email in html for email in expected)
    assert "@example.org" in html and "m" + str(ledger[4].pk) + "-0" not in html


def test_xlsx_export_holds_the_filtered_rows(client, ledger):
    from openpyxl import load_workbook

    alice, _, _, a2, _ = ledger
    client.force_login(alice)

    response = client.get(URL + f"?export=xlsx&mailing={a2.pk}")
    sheet = load_workbook(io.BytesIO(b"".join(response))).active
    values = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]

    assert values == [f"m{a2.pk}-0@example.org"]


def test_another_users_mailing_in_the_filter_is_refused(client, ledger):
    alice, _, _, _, b1 = ledger
    client.force_login(alice)

    _, rows = exported(client, f"?export=csv&mailing={b1.pk}")

    assert not any(row[0].startswith(f"m{b1.pk}-") for row in rows)


def test_a_manager_sees_everyones_failures_with_the_owner(client, ledger):
    client.force_login(UserFactory(role="Managers"))

    html = client.get(URL).content.decode()
    _, rows = exported(client, "?export=csv")

    assert len(rows) == 4
    assert "Owner" in html


def test_a_mailings_figures_equal_the_ledger(client, ledger):
    from django.db import connection

    alice, _, a1, _, _ = ledger
    run_with(a1, ["sent", "sent", "failed", "skipped"], tag="second")
    client.force_login(alice)

    html = client.get(f"/admin/mailings/mailings/inspect/{a1.pk}/").content.decode()
    listing = client.get("/admin/mailings/mailings/").content.decode()

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM mailings_attempt WHERE mailing_id = %s", [a1.pk])
        (runs,) = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*) FROM mailings_mailing_clients WHERE mailing_id = %s", [a1.pk]
        )
        (recipients,) = cursor.fetchone()
        cursor.execute(
            "SELECT SUM(CASE WHEN d.status = 'sent' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN d.status = 'failed' THEN 1 ELSE 0 END) "
            "FROM mailings_delivery d JOIN mailings_attempt a ON a.id = d.attempt_id "
            "WHERE a.mailing_id = %s",
            [a1.pk],
        )
        sent, failed = cursor.fetchone()

    assert (runs, sent, failed) == (2, 3, 3)
    assert f'data-stat="runs">{runs}<' in html
    assert f'data-stat="recipients">{recipients}<' in html
    assert f'data-stat="sent">{sent}<' in html
    assert f'data-stat="failed">{failed}<' in html
    assert f'data-stat="success-rate">{round(100 * sent / (sent + failed), 1)}%<' in html
    assert f"{sent} / {failed} ({100 * sent / (sent + failed):.1f} %)" in listing


def test_a_manager_filters_failures_by_owner(client, ledger):
    _, bob, *_ = ledger
    client.force_login(UserFactory(role="Managers"))

    _, bobs = exported(client, f"?export=csv&owner={bob.pk}")

    expected = Delivery.objects.get(attempt__mailing__owner=bob, status="failed").email
    assert [row[0] for row in bobs] == [expected]


def test_attempts_export_holds_exactly_the_filtered_runs(client, ledger):
    alice, _, a1, _, _ = ledger
    run_with(a1, ["sent"], tag="again")
    client.force_login(alice)

    response = client.get(f"/admin/mailings/attempts/?export=csv&mailing={a1.pk}")
    rows = list(csv.reader(io.StringIO(b"".join(response).decode("utf-8-sig"))))[1:]
    everything = list(
        csv.reader(
            io.StringIO(
                b"".join(client.get("/admin/mailings/attempts/?export=csv")).decode("utf-8-sig")
            )
        )
    )[1:]

    expected = Attempt.objects.filter(mailing=a1).count()
    assert len(rows) == expected == 2
    assert len(everything) == Attempt.objects.filter(mailing__owner=alice).count() == 3
    sent_column = [int(row[4]) for row in rows]
    assert sorted(sent_column) == sorted(
        Attempt.objects.filter(mailing=a1).values_list("sent", flat=True)
    )


def test_a_running_run_s_page_follows_it_without_a_reload(client, db):
    owner = UserFactory(role="Users")
    attempt = AttemptFactory(mailing__owner=owner, status="in_progress", total=10, sent=4)
    client.force_login(owner)

    page = client.get(f"/admin/mailings/attempts/inspect/{attempt.pk}/").content.decode()
    progress = client.get(f"/admin/mailings/attempts/progress/{attempt.pk}/").json()

    assert "live-progress.js" in page and 'http-equiv="refresh"' not in page
    assert f'data-live-progress="/admin/mailings/attempts/progress/{attempt.pk}/"' in page
    assert progress["percent"] == 40 and progress["counts"] == "4 / 0 / 0 / 10"
    assert progress["finished"] is False
    client.force_login(UserFactory(role="Users"))
    assert client.get(f"/admin/mailings/attempts/progress/{attempt.pk}/").status_code == 404
