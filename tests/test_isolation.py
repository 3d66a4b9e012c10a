"""Another user's rows do not exist for you: every admin path answers 404 (or 403), no
response carries their data, and nothing of theirs changes."""

import pytest
from django.test import Client
from django.utils import timezone

from mailings.models import Attempt, Delivery, Mailing, Message
from mailings.models import Client as MailingClient
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db

MARKERS = ("secret-client@alice.example", "Alice secret subject", "alice-secret-reply")


@pytest.fixture
def alice_data():
    alice = UserFactory(role="Users", email="alice@example.com")
    client = ClientFactory(owner=alice, email=MARKERS[0], full_name="Alice Client")
    message = MessageFactory(owner=alice, subject=MARKERS[1], body="Private body")
    mailing = MailingFactory(owner=alice, message=message, clients=[client])
    attempt = Attempt.objects.create(
        mailing=mailing, scheduled_for=mailing.start_at, server_response=MARKERS[2]
    )
    Delivery.objects.create(attempt=attempt, client=client, email=client.email)
    return {
        "client": client,
        "message": message,
        "mailing": mailing,
        "attempt": attempt,
    }


@pytest.fixture
def mallory(client):
    intruder = UserFactory(role="Users", email="mallory@example.com")
    client.force_login(intruder)
    return intruder


def snapshot():
    return {
        "clients": list(MailingClient.objects.values().order_by("pk")),
        "messages": list(Message.objects.values().order_by("pk")),
        "mailings": list(Mailing.objects.values().order_by("pk")),
        "links": list(Mailing.clients.through.objects.values().order_by("pk")),
        "attempts": list(Attempt.objects.values().order_by("pk")),
        "deliveries": list(Delivery.objects.values().order_by("pk")),
    }


def assert_no_markers(response):
    body = b"".join(response) if response.streaming else response.content
    for marker in MARKERS:
        assert marker.encode() not in body, (response.request["PATH_INFO"], marker)


PREFIX = {
    "client": "/admin/mailings/clients/",
    "message": "/admin/mailings/messages/",
    "mailing": "/admin/mailings/mailings/",
    "attempt": "/admin/mailings/attempts/",
}

POST_DATA = {
    "client": {"email": "stolen@example.org", "full_name": "Stolen", "comment": ""},
    "message": {"subject": "Hijacked", "body": "Hijacked"},
    "mailing": {"periodicity": "once", "start_at": "2030-01-01 10:00", "end_at": "2030-01-02"},
    "attempt": {"status": "success"},
}


@pytest.mark.parametrize("kind", ["client", "message", "mailing", "attempt"])
@pytest.mark.parametrize("query", ["", "?export=csv", "?export=xlsx", "?q=secret", "?q=alice"])
def test_listings_and_exports_hold_none_of_another_users_rows(
    client, alice_data, mallory, kind, query
):
    response = client.get(PREFIX[kind] + query)

    assert response.status_code == 200
    assert_no_markers(response)


@pytest.mark.parametrize("kind", ["client", "message", "mailing", "attempt"])
@pytest.mark.parametrize(
    "view",
    [
        "inspect",
        "edit",
        "delete",
        "history",
        "usage",
        "preview",
        "send-test",
        "send-now",
        "disable",
        "enable",
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_object_views_answer_not_found(client, alice_data, mallory, kind, view, method):
    before = snapshot()
    obj = alice_data[kind]
    url = f"{PREFIX[kind]}{view}/{obj.pk}/"

    response = client.get(url) if method == "get" else client.post(url, POST_DATA[kind])

    assert response.status_code in (403, 404), (url, response.status_code)
    assert_no_markers(response)
    assert snapshot() == before


def test_mailing_form_offers_only_your_own_messages_and_clients(client, alice_data, mallory):
    MessageFactory(owner=mallory, subject="Mallory's own")

    form = client.get("/admin/mailings/mailings/add/")
    search = client.get("/admin/mailings/clients/search/?q=&all=1")

    assert form.status_code == 200
    assert "Mallory&#x27;s own" in form.content.decode()
    assert_no_markers(form)
    assert search.json()["total"] == 0
    assert_no_markers(search)


def test_a_hand_made_post_with_someone_elses_message_or_client_is_a_form_error(
    client, alice_data, mallory
):
    own_message = MessageFactory(owner=mallory)
    own_client = ClientFactory(owner=mallory)
    start = timezone.now() + timezone.timedelta(days=1)
    data = {
        "start_at": start.strftime("%Y-%m-%d %H:%M"),
        "end_at": (start + timezone.timedelta(days=3)).strftime("%Y-%m-%d %H:%M"),
        "periodicity": "daily",
        "is_enabled": "on",
    }

    with_their_message = client.post(
        PREFIX["mailing"] + "add/",
        {**data, "message": alice_data["message"].pk, "clients": [own_client.pk]},
    )
    with_their_client = client.post(
        PREFIX["mailing"] + "add/",
        {**data, "message": own_message.pk, "clients": [own_client.pk, alice_data["client"].pk]},
    )

    for response in (with_their_message, with_their_client):
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
    assert not Mailing.objects.filter(owner=mallory).exists()


def test_editing_your_mailing_cannot_pull_in_someone_elses_client(client, alice_data, mallory):
    mine = MailingFactory(owner=mallory)
    before = list(mine.clients.values_list("pk", flat=True))

    response = client.post(
        f"{PREFIX['mailing']}edit/{mine.pk}/",
        {
            "message": mine.message_id,
            "clients": [*before, alice_data["client"].pk],
            "start_at": mine.start_at.strftime("%Y-%m-%d %H:%M"),
            "end_at": mine.end_at.strftime("%Y-%m-%d %H:%M"),
            "periodicity": mine.periodicity,
            "is_enabled": "on",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert sorted(mine.clients.values_list("pk", flat=True)) == sorted(before)


def test_the_owner_still_sees_everything_of_theirs(client, alice_data):
    client.force_login(alice_data["client"].owner)

    assert MARKERS[0] in client.get(PREFIX["client"]).content.decode()
    assert MARKERS[1] in client.get(PREFIX["message"]).content.decode()
    assert client.get(f"{PREFIX['attempt']}inspect/{alice_data['attempt'].pk}/").status_code == 200
    assert MARKERS[0].encode() in b"".join(client.get(PREFIX["client"] + "?export=csv"))


def test_the_audit_log_shows_no_one_elses_entries(client, alice_data):
    alice = alice_data["client"].owner
    client.force_login(alice)
    client.post(
        PREFIX["client"] + "add/",
        {"email": "logged-secret@alice.example", "full_name": "Logged Secret"},
    )
    client.post(
        f"{PREFIX['message']}edit/{alice_data['message'].pk}/",
        {"subject": MARKERS[1], "body": "edited"},
    )
    own_history = client.get("/admin/reports/site-history/").content.decode()
    assert "Logged Secret" in own_history

    intruder = Client()  # another person, another browser
    intruder.force_login(UserFactory(role="Users"))
    for url in ("/admin/reports/site-history/", "/admin/reports/site-history/results/"):
        response = intruder.get(url)
        assert "Logged Secret" not in response.content.decode()
        assert_no_markers(response)


def test_a_manager_sees_mailing_entries_but_not_address_books(client, alice_data):
    alice = alice_data["client"].owner
    client.force_login(alice)
    client.post(
        PREFIX["client"] + "add/",
        {"email": "logged-secret@alice.example", "full_name": "Logged Secret"},
    )
    mailing = alice_data["mailing"]
    client.post(
        f"{PREFIX['mailing']}edit/{mailing.pk}/",
        {
            "message": mailing.message_id,
            "clients": [alice_data["client"].pk],
            "start_at": mailing.start_at.strftime("%Y-%m-%d %H:%M"),
            "end_at": mailing.end_at.strftime("%Y-%m-%d %H:%M"),
            "periodicity": "weekly",
            "is_enabled": "on",
        },
    )

    manager = Client()
    manager.force_login(UserFactory(role="Managers"))
    history = manager.get("/admin/reports/site-history/").content.decode()

    assert "Logged Secret" not in history
    assert f"{mailing.message.subject} (Weekly)" in history
