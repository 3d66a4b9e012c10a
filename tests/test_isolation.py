"""Another user's rows do not exist for you: every admin path that names one of their rows
answers 404, no response carries their data, and nothing of theirs changes.

The matrix of object routes is read from the URL resolver, not written by hand: a view added
to a viewset of the mailings app is covered the day it is added."""

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from wagtail.models import APIToken

from mailings import jobs
from mailings.models import (
    Attempt,
    ClientList,
    Delivery,
    Job,
    Mailing,
    Membership,
    Message,
    Sender,
)
from mailings.models import Client as MailingClient
from mailings.wagtail_hooks import MailingsGroup
from tests.factories import (
    AttemptFactory,
    ClientFactory,
    DeliveryFactory,
    MailingFactory,
    MessageFactory,
    UserFactory,
)
from tests.support.forms import mailing_form_data
from tests.support.snapshot import snapshot

pytestmark = pytest.mark.django_db

MARKERS = (
    "secret-client@alice.example",
    "Alice secret subject",
    "alice-secret-reply",
    "secret-sender@alice.example",
    "Alice secret list",
    "Alice secret token",
    "alice-secret-export.csv",
    "alice-secret-file-content",
)


def object_routes() -> list[tuple[str, type]]:
    """(route name, model) for every route of the mailings admin that takes a row's id."""
    model_of = {viewset.url_namespace: viewset.model for viewset in MailingsGroup.items}
    found = set()

    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, pattern.namespace or namespace)
                continue
            arguments = set(getattr(pattern.pattern, "converters", {}))
            arguments |= set(pattern.pattern.regex.groupindex)
            if namespace in model_of and pattern.name and "pk" in arguments:
                found.add((f"{namespace}:{pattern.name}", model_of[namespace]))

    walk(get_resolver().url_patterns, None)
    return sorted(found, key=lambda route: route[0])


OBJECT_ROUTES = object_routes()


def test_the_matrix_covers_the_views_it_must():
    names = {name for name, _ in OBJECT_ROUTES}
    for expected in (
        "mailings_clients:edit",
        "mailings_clients:delete",
        "mailings_clients:history",
        "mailings_messages:preview",
        "mailings_messages:send_test",
        "mailings_mailings:inspect",
        "mailings_mailings:send_now",
        "mailings_mailings:disable",
        "mailings_mailings:enable",
        "mailings_attempts:inspect",
        "mailings_attempts:retry_failed",
        "mailings_senders:edit",
        "mailings_senders:send_link",
        "mailings_lists:edit",
        "mailings_lists:inspect",
        "mailings_lists:delete",
    ):
        assert expected in names


@pytest.fixture
def alice_data():
    alice = UserFactory(role="Users", email="alice@example.com")
    client = ClientFactory(owner=alice, email=MARKERS[0], full_name="Alice Client")
    message = MessageFactory(owner=alice, subject=MARKERS[1], body="Private body")
    mailing = MailingFactory(owner=alice, message=message, clients=[client])
    attempt = AttemptFactory(mailing=mailing, server_response=MARKERS[2], status="failure")
    delivery = DeliveryFactory(attempt=attempt, client=client, status="failed")
    sender = Sender.objects.create(owner=alice, name="Alice Shop", email=MARKERS[3])
    client_list = ClientList.objects.create(owner=alice, name=MARKERS[4])
    Membership.objects.create(client_list=client_list, client=client)
    mailing.lists.add(client_list)
    token, _plaintext = APIToken.create_token(user=alice, name="Alice secret token")
    export = Job.objects.create(
        owner=alice,
        kind=Job.Kind.EXPORT,
        state=Job.State.DONE,
        name=MARKERS[6],
        path=jobs.new_file(".csv"),
        params={"format": "csv"},
    )
    (jobs.folder() / export.path).write_text(MARKERS[7])
    return {
        Job: export,
        APIToken: token,
        ClientList: client_list,
        MailingClient: client,
        Message: message,
        Mailing: mailing,
        Attempt: attempt,
        Delivery: delivery,
        Sender: sender,
        "owner": alice,
    }


@pytest.fixture
def mallory(client):
    intruder = UserFactory(role="Users", email="mallory@example.com")
    client.force_login(intruder)
    return intruder


def assert_no_markers(response):
    body = b"".join(response) if response.streaming else response.content
    for marker in MARKERS:
        assert marker.encode() not in body, (response.request["PATH_INFO"], marker)


PREFIX = {
    "client": "/admin/mailings/clients/",
    "message": "/admin/mailings/messages/",
    "mailing": "/admin/mailings/mailings/",
    "attempt": "/admin/mailings/attempts/",
    "failed": "/admin/mailings/failed-deliveries/",
    "sender": "/admin/mailings/senders/",
    "list": "/admin/mailings/lists/",
}

POST_DATA = {
    MailingClient: {"email": "stolen@example.org", "full_name": "Stolen", "comment": ""},
    Message: {"subject": "Hijacked", "body": "Hijacked"},
    Mailing: mailing_form_data(),
    Attempt: {"status": "success"},
    Delivery: {"status": "sent"},
    Job: {"state": "queued"},
    Sender: {"name": "Hijacked", "email": "stolen@example.org", "reply_to": ""},
    ClientList: {"name": "Hijacked", "description": ""},
    APIToken: {"name": "Hijacked", "user": ""},
}


@pytest.mark.parametrize("kind", PREFIX)
@pytest.mark.parametrize("query", ["", "?export=csv", "?export=xlsx", "?q=secret", "?q=alice"])
def test_listings_and_exports_hold_none_of_another_users_rows(
    client, alice_data, mallory, kind, query
):
    response = client.get(PREFIX[kind] + query)

    assert response.status_code == 200
    assert_no_markers(response)


@pytest.mark.parametrize(("route", "model"), OBJECT_ROUTES, ids=[r for r, _ in OBJECT_ROUTES])
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_object_route_is_not_found_for_another_user(
    client, alice_data, mallory, route, model, method
):
    url = reverse(route, kwargs={"pk": alice_data[model].pk})
    owner = Client()
    owner.force_login(alice_data["owner"])
    assert owner.get(url).status_code != 404, f"{url} does not exist for its owner either"
    before = snapshot()

    response = client.get(url) if method == "get" else client.post(url, POST_DATA[model])

    assert response.status_code == 404, (url, response.status_code)
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
    data = mailing_form_data()

    with_their_message = client.post(
        PREFIX["mailing"] + "add/",
        {**data, "message": alice_data[Message].pk, "clients": [own_client.pk]},
    )
    with_their_client = client.post(
        PREFIX["mailing"] + "add/",
        {
            **data,
            "message": own_message.pk,
            "clients": [own_client.pk, alice_data[MailingClient].pk],
        },
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
        mailing_form_data(mine, clients=[*before, alice_data[MailingClient].pk]),
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert sorted(mine.clients.values_list("pk", flat=True)) == sorted(before)


def test_the_owner_still_sees_everything_of_theirs(client, alice_data):
    client.force_login(alice_data[MailingClient].owner)

    assert MARKERS[0] in client.get(PREFIX["client"]).content.decode()
    assert MARKERS[1] in client.get(PREFIX["message"]).content.decode()
    assert client.get(f"{PREFIX['attempt']}inspect/{alice_data[Attempt].pk}/").status_code == 200
    assert MARKERS[0].encode() in b"".join(client.get(PREFIX["client"] + "?export=csv"))


def test_the_audit_log_shows_no_one_elses_entries(client, alice_data):
    alice = alice_data[MailingClient].owner
    client.force_login(alice)
    client.post(
        PREFIX["client"] + "add/",
        {"email": "logged-secret@alice.example", "full_name": "Logged Secret"},
    )
    client.post(
        f"{PREFIX['message']}edit/{alice_data[Message].pk}/",
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
    alice = alice_data[MailingClient].owner
    client.force_login(alice)
    client.post(
        PREFIX["client"] + "add/",
        {"email": "logged-secret@alice.example", "full_name": "Logged Secret"},
    )
    mailing = alice_data[Mailing]
    client.post(
        f"{PREFIX['mailing']}edit/{mailing.pk}/", mailing_form_data(mailing, periodicity="weekly")
    )

    manager = Client()
    manager.force_login(UserFactory(role="Managers"))
    history = manager.get("/admin/reports/site-history/").content.decode()

    assert "Logged Secret" not in history
    assert mailing.name in history
