"""Bad input is a clear form error on the field it concerns, and nothing is saved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailings.models import Client, Mailing, Message
from tests.factories import ClientFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def post(client, path, data):
    response = client.post(path, data)
    assert response.status_code == 200, "expected the form back with errors"
    return response.content.decode()


def test_end_before_start_is_an_error_on_the_end(client, owner):
    message, recipient = MessageFactory(owner=owner), ClientFactory(owner=owner)
    start = timezone.localtime() + timedelta(days=2)

    html = post(
        client,
        "/admin/mailings/mailings/add/",
        {
            "name": "Spring offers",
            "message": message.pk,
            "clients": [recipient.pk],
            "start_at": start.strftime("%Y-%m-%d %H:%M"),
            "end_at": (start - timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
            "periodicity": "daily",
        },
    )

    assert "The end must be after the start." in html
    assert not Mailing.objects.exists()


def test_a_mailing_needs_clients_or_lists(client, owner):
    start = timezone.localtime() + timedelta(days=2)

    html = post(
        client,
        "/admin/mailings/mailings/add/",
        {
            "name": "Spring offers",
            "message": MessageFactory(owner=owner).pk,
            "start_at": start.strftime("%Y-%m-%d %H:%M"),
            "end_at": (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
            "periodicity": "once",
        },
    )

    assert "Choose at least one list or one client." in html
    assert not Mailing.objects.exists()


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 201, "Ensure this value has at most 200 characters (it has 201)."),
        ("Two\nlines", "A name must be a single line."),
    ],
    ids=["empty", "blank", "huge", "newline"],
)
def test_a_mailing_needs_a_name_of_one_short_line(client, owner, name, error):
    start = timezone.localtime() + timedelta(days=2)
    data = {
        "name": name,
        "message": MessageFactory(owner=owner).pk,
        "clients": [ClientFactory(owner=owner).pk],
        "start_at": start.strftime("%Y-%m-%d %H:%M"),
        "end_at": (start + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
        "periodicity": "once",
    }

    html = post(client, "/admin/mailings/mailings/add/", data)

    assert error in html
    assert not Mailing.objects.exists()


def test_malformed_email_is_an_error(client, owner):
    html = post(
        client, "/admin/mailings/clients/add/", {"email": "ann@@example", "full_name": "Ann"}
    )

    assert "Enter a valid email address." in html
    assert not Client.objects.exists()


def test_same_email_in_another_case_is_an_error(client, owner):
    ClientFactory(owner=owner, email="ann@example.org")

    html = post(
        client, "/admin/mailings/clients/add/", {"email": "ANN@Example.ORG", "full_name": "Ann"}
    )

    assert "You already have a client with the address ANN@Example.ORG." in html
    assert Client.objects.count() == 1


def test_editing_a_client_to_a_taken_address_is_an_error(client, owner):
    ClientFactory(owner=owner, email="ann@example.org")
    bob = ClientFactory(owner=owner, email="bob@example.org")

    html = post(
        client,
        f"/admin/mailings/clients/edit/{bob.pk}/",
        {"email": "Ann@example.org", "full_name": "Bob"},
    )

    assert "You already have a client with the address" in html
    bob.refresh_from_db()
    assert bob.email == "bob@example.org"


def test_the_same_address_is_fine_for_another_owner(client, owner):
    ClientFactory(owner=UserFactory(), email="ann@example.org")

    response = client.post(
        "/admin/mailings/clients/add/", {"email": "ann@example.org", "full_name": "Ann"}
    )

    assert response.status_code == 302
    assert Client.objects.filter(owner=owner).count() == 1


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Hi {first_name}", "Body", "Unknown placeholder {first_name}"),
        ("Hi", "Dear {full_name}, see {url}", "Unknown placeholder {url}"),
        ("Hi", "Price: {", "Malformed placeholder"),
        ("Hi", "{email!r}", "Malformed placeholder {email!r}"),
    ],
)
def test_unknown_or_malformed_placeholders_are_named(client, owner, subject, body, expected):
    html = post(client, "/admin/mailings/messages/add/", {"subject": subject, "body": body})

    assert expected in html
    assert not Message.objects.exists()


def test_a_line_break_in_a_subject_is_an_error(client, owner):
    html = post(
        client,
        "/admin/mailings/messages/add/",
        {"subject": "News\r\nBcc: everyone@example.org", "body": "Body"},
    )

    assert "A subject must be a single line." in html
    assert not Message.objects.exists()
