"""The unsubscribe link: a confirmation page, a POST (from the page or a mail client's
one-click button) that unsubscribes, and 400 for a link that was tampered with."""

import pytest

from mailings.unsubscribe import Tokens
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_get_asks_before_unsubscribing(client):
    reader = ClientFactory()

    response = client.get(f"/unsubscribe/{Tokens().for_client(reader.pk)}/")

    assert response.status_code == 200
    assert '<form method="post">' in response.content.decode()
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None


def test_one_click_post_unsubscribes_without_a_csrf_token(client):
    reader = ClientFactory()
    strict = client.__class__(enforce_csrf_checks=True)

    response = strict.post(
        f"/unsubscribe/{Tokens().for_client(reader.pk)}/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.unsubscribed_at is not None


def test_a_second_post_keeps_the_first_date(client):
    reader = ClientFactory()
    url = f"/unsubscribe/{Tokens().for_client(reader.pk)}/"
    client.post(url)
    reader.refresh_from_db()
    first = reader.unsubscribed_at

    client.post(url)

    reader.refresh_from_db()
    assert reader.unsubscribed_at == first


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "1" + t, lambda t: "junk"])
def test_a_tampered_token_gets_400(client, mangle):
    reader = ClientFactory()

    response = client.post(f"/unsubscribe/{mangle(Tokens().for_client(reader.pk))}/")

    assert response.status_code == 400
    reader.refresh_from_db()
    assert reader.unsubscribed_at is None
