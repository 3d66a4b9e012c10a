"""Lists in the admin: a list's page and its form's address, mailings that target lists,
an import straight into a list, and the clients listing's bulk actions, which act on
"all matching the filter" in a fixed number of statements whatever the count."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mailings.models import Client, ClientList, Mailing, Membership
from tests.factories import ClientFactory, MessageFactory, SuperuserFactory, UserFactory
from tests.support.forms import mailing_form_data

pytestmark = pytest.mark.django_db

BULK = "/admin/bulk/mailings/client/{action}/"


def a_list(owner, name="Customers", clients=()):
    client_list = ClientList.objects.create(owner=owner, name=name)
    Membership.objects.bulk_create(Membership(client_list=client_list, client=c) for c in clients)
    return client_list


def test_a_list_is_created_and_its_page_gives_the_form_and_a_snippet(client, owner):
    response = client.post(
        "/admin/mailings/lists/add/", {"name": "  Bakery   news ", "description": ""}
    )
    assert response.status_code == 302
    made = ClientList.objects.get(owner=owner)
    assert made.name == "Bakery news" and len(made.token) >= 24
    again = client.post("/admin/mailings/lists/add/", {"name": "BAKERY NEWS", "description": ""})
    assert "already have a list" in again.content.decode()

    Membership.objects.create(client_list=made, client=ClientFactory(owner=owner))
    page = client.get(reverse("mailings_lists:inspect", args=[made.pk])).content.decode()

    assert f"/subscribe/{made.token}/" in page
    assert "&lt;form method=&quot;post&quot;" in page  # the snippet, escaped in a textarea
    assert 'data-count="total"' in page and f"?list={made.pk}" in page


def test_a_list_s_page_shows_its_clients_paged_and_searchable(client, owner):
    made = a_list(owner)
    Client.objects.bulk_create(
        Client(owner=owner, email=f"m{i:03}@example.org", full_name=f"Member {i:03}")
        for i in range(120)
    )
    Membership.objects.bulk_create(
        Membership(client_list=made, client=c) for c in Client.objects.filter(owner=owner)
    )
    outsider = ClientFactory(owner=owner, full_name="Not A Member")
    url = reverse("mailings_lists:inspect", args=[made.pk])

    first = client.get(url).content.decode()
    found = client.get(url + "?q=member 117").content.decode()

    assert "Member 000" in first and "Member 119" not in first  # paged
    assert "Member 117" in found and "Member 000" not in found
    assert outsider.full_name not in first
    for garbage in ("?q=%00", "?q=" + "x" * 5000, "?p=-1", "?p=99999999999999", "?p=abc"):
        assert client.get(url + garbage).status_code == 200


def test_the_clients_listing_filters_by_list_and_by_status(client, owner):
    ann, bob, cat = (ClientFactory(owner=owner, full_name=n) for n in ("Ann", "Bob", "Cat"))
    customers = a_list(owner, clients=[ann, bob])
    Client.objects.filter(pk=bob.pk).update(bounced_at="2026-01-01T00:00Z", bounce_reason="550")
    Client.objects.filter(pk=cat.pk).update(unsubscribed_at="2026-01-01T00:00Z")

    def names(query):
        page = client.get("/admin/mailings/clients/" + query).content.decode()
        return [n for n in ("Ann", "Bob", "Cat") if re.search(rf">\s*{n}\s*<", page)]

    assert names(f"?list={customers.pk}") == ["Ann", "Bob"]
    assert names("?status=bounced") == ["Bob"]
    assert names("?status=unsubscribed") == ["Cat"]
    assert names("?status=subscribed") == ["Ann"]
    assert client.get("/admin/mailings/clients/?status=garbage").status_code == 200
    assert client.get("/admin/mailings/clients/?list=99999999999999999999").status_code == 200


def test_a_mailing_may_target_lists_only_and_must_target_something(client, owner):
    message = MessageFactory(owner=owner)
    customers = a_list(owner)
    theirs = a_list(UserFactory(role="Users"), name="Theirs")

    nothing = client.post("/admin/mailings/mailings/add/", mailing_form_data(message=message.pk))
    foreign = client.post(
        "/admin/mailings/mailings/add/",
        mailing_form_data(message=message.pk, lists=[theirs.pk]),
    )
    listed = client.post(
        "/admin/mailings/mailings/add/",
        mailing_form_data(message=message.pk, lists=[customers.pk]),
    )

    assert "Choose at least one list or one client." in nothing.content.decode()
    assert "Select a valid choice" in foreign.content.decode()
    assert listed.status_code == 302
    mailing = Mailing.objects.get(owner=owner)
    assert list(mailing.lists.all()) == [customers] and not mailing.clients.exists()


def test_an_import_goes_straight_into_a_list(client, owner, through_worker):
    known = ClientFactory(owner=owner, email="known@example.org", full_name="Known")
    customers = a_list(owner)
    csv = b"email,full_name\nknown@example.org,\nnew@example.org,New One\n"
    upload = io.BytesIO(csv)
    upload.name = "clients.csv"

    response = through_worker(
        client,
        "/admin/mailings/clients/import/",
        {"file": upload, "client_list": customers.pk},
    )

    assert response.status_code == 200 and "1 client created" in response.content.decode()
    members = set(customers.clients.values_list("email", flat=True))
    assert members == {"known@example.org", "new@example.org"}
    assert Membership.objects.get(client=known).source == "import"
    theirs = a_list(UserFactory(role="Users"), name="Theirs")
    upload = io.BytesIO(csv)
    upload.name = "clients.csv"
    refused = client.post(
        "/admin/mailings/clients/import/", {"file": upload, "client_list": theirs.pk}
    )
    assert refused.status_code == 400 and not theirs.clients.exists()


def test_a_bounced_client_is_reactivated_from_its_form(client, owner):
    bounced = ClientFactory(owner=owner)
    Client.objects.filter(pk=bounced.pk).update(
        bounced_at="2026-01-01T00:00Z", bounce_reason="550 5.1.1 gone"
    )
    edit = reverse("mailings_clients:edit", args=[bounced.pk])
    assert "550 5.1.1 gone" in client.get(edit).content.decode()

    data = {
        "email": bounced.email,
        "full_name": bounced.full_name,
        "comment": "",
        "reactivate": "on",
    }
    assert client.post(edit, data).status_code == 302
    assert Client.objects.get(pk=bounced.pk).bounced_at is None


def many_clients(owner, count: int, **fields) -> None:
    Client.objects.bulk_create(
        (
            Client(owner=owner, email=f"bulk{i}@example.org", full_name=f"Bulk {i}", **fields)
            for i in range(count)
        ),
        batch_size=5000,
    )


def bulk(client, action: str, query: str, data=None):
    url = BULK.format(action=action) + query
    return client.post(url, data or {}) if data is not None else client.get(url)


def statements(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 302), response.status_code
    return len(queries.captured_queries)


def test_bulk_actions_over_all_matching_take_the_same_statements_for_100000_clients(client, owner):
    """The issue's measure: a bulk action over "all matching the filter" with 100,000
    clients, with as many statements as over 10 (printed: pytest -s)."""
    customers = a_list(owner)
    many_clients(owner, 10, comment="small")
    query = "?id=all&q=small"
    small = {
        "confirm": statements(lambda: bulk(client, "add_to_list", query)),
        "add": statements(
            lambda: bulk(client, "add_to_list", query, {"client_list": customers.pk})
        ),
    }
    Client.objects.filter(owner=owner).delete()
    Membership.objects.all().delete()
    many_clients(owner, 100_000, comment="big")
    query = "?id=all&q=big"

    page = bulk(client, "add_to_list", query).content.decode()
    big = {
        "confirm": statements(lambda: bulk(client, "add_to_list", query)),
        "add": statements(
            lambda: bulk(client, "add_to_list", query, {"client_list": customers.pk})
        ),
    }

    print(f"\nstatements for 10 clients: {small}; for 100,000: {big}")
    assert 'data-bulk-count="100000"' in page
    assert big == small
    assert customers.clients.count() == 100_000
    unsubscribe = statements(lambda: bulk(client, "unsubscribe", query, {}))
    delete = statements(lambda: bulk(client, "delete", query, {}))
    print(f"unsubscribe: {unsubscribe}, delete: {delete} statements for 100,000")
    assert not Client.objects.filter(owner=owner).exists()
    assert not Membership.objects.exists()


def test_bulk_actions_act_on_the_ticked_or_the_filtered_and_never_on_anothers(client, owner):
    ann, bob, cat = (ClientFactory(owner=owner, full_name=n) for n in ("Ann", "Bob", "Cat"))
    customers = a_list(owner, clients=[ann])
    stranger = ClientFactory(full_name="Stranger")
    theirs = a_list(stranger.owner, name="Theirs", clients=[stranger])

    bulk(client, "add_to_list", f"?id={bob.pk}&id={stranger.pk}", {"client_list": customers.pk})
    assert set(customers.clients.all()) == {ann, bob}
    assert set(theirs.clients.all()) == {stranger}

    refused = bulk(client, "add_to_list", f"?id={bob.pk}", {"client_list": theirs.pk})
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert set(theirs.clients.all()) == {stranger}

    page = bulk(client, "unsubscribe", f"?id={stranger.pk}").content.decode()
    assert 'data-bulk-count="0"' in page and "Stranger" not in page

    bulk(client, "remove_from_list", f"?id=all&list={customers.pk}", {"client_list": customers.pk})
    assert not customers.clients.exists()

    bulk(client, "unsubscribe", "?id=all&q=Cat", {})
    assert Client.objects.get(pk=cat.pk).unsubscribed_at is not None
    assert Client.objects.get(pk=ann.pk).unsubscribed_at is None
    bulk(client, "delete", f"?id=all&list={theirs.pk}", {})  # their list: matches nothing here
    assert Client.objects.filter(pk=stranger.pk).exists()
    assert Client.objects.filter(owner=owner).count() == 3

    for garbage in (
        "?id=abc",
        "?id=" + "9" * 40,
        "?id=all&status=nonsense",
        "?id=all&created_at_from=x",
    ):
        response = bulk(client, "delete", garbage, {})
        assert response.status_code in (200, 302)
    assert Client.objects.filter(owner=owner).count() == 3


def test_a_manager_cannot_act_on_clients(client, db):
    manager = UserFactory(role="Managers")
    client.force_login(manager)
    victim = ClientFactory()
    assert bulk(client, "delete", f"?id={victim.pk}", {}).status_code == 403
    assert Client.objects.filter(pk=victim.pk).exists()


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("", None),
        ("   ", None),
        ("x" * 10_000, None),
        ("nul\x00char", None),
        ("line\nbreak", "line break"),  # whitespace folded: a name is one line
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept, shown escaped
    ],
)
def test_a_list_name_that_is_garbage_is_a_form_error_or_kept_harmless(client, owner, name, kept):
    response = client.post("/admin/mailings/lists/add/", {"name": name, "description": "d" * 100})

    names = list(ClientList.objects.filter(owner=owner).values_list("name", flat=True))
    if kept is None:
        assert response.status_code == 200 and names == []
        return
    assert response.status_code == 302 and names == [kept]
    page = client.get("/admin/mailings/lists/").content.decode()
    assert "<script>alert(1)</script>" not in page


def test_a_superuser_adding_everyone_to_a_list_adds_only_the_list_owner_s_clients(client, db):
    admin = SuperuserFactory()
    client.force_login(admin)
    own = ClientFactory(owner=admin)
    theirs = ClientFactory()
    mine = a_list(admin, name="Admin's")

    response = bulk(client, "add_to_list", "?id=all", {"client_list": mine.pk})

    assert response.status_code == 302
    assert list(mine.clients.all()) == [own]
    assert not Membership.objects.filter(client=theirs).exists()
