"""A list's public subscription form with double opt-in: a sign-up mails a link; only the
confirming POST from the page the link opens puts the client in the list. Known and new
addresses get the same answer; the honeypot and the throttles refuse, saying so."""

from __future__ import annotations

import re

import pytest
from django.test import Client as Browser
from django.urls import reverse

from mailings.models import Client, ClientList, Membership, Subscription
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_list(db):
    owner = UserFactory(role="Users")
    return ClientList.objects.create(owner=owner, name="Bakery news", description="Weekly bread.")


def form_url(client_list) -> str:
    return reverse("subscribe", args=[client_list.token])


def link_in(received) -> str:
    body = received.message.get_content()
    url = re.search(r"https?://\S+/subscribe/confirm/\S+/", body)[0]
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def sign_up(browser, client_list, committed, **fields):
    data = {"full_name": "Ann Baker", "email": "ann@example.org", "website": "", **fields}
    return committed(browser.post, form_url(client_list), data)


def test_sign_up_mails_a_link_and_only_the_confirming_post_subscribes(
    shop_list, smtp_server, committed
):
    browser = Browser(enforce_csrf_checks=True)  # the form may be pasted into another site
    page = browser.get(form_url(shop_list))
    assert page.status_code == 200 and "Bakery news" in page.content.decode()

    answer = sign_up(browser, shop_list, committed)

    assert answer.status_code == 200
    assert "ann@example.org" in answer.content.decode()
    assert not Client.objects.filter(email="ann@example.org").exists()  # not before the click
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["ann@example.org"]
    assert "Ann Baker" not in mail.message.get_content()  # nothing typed goes into the mail
    link = link_in(mail)

    asked = browser.get(link)  # what a link scanner does
    assert asked.status_code == 200 and "Confirm my subscription" in asked.content.decode()
    assert not Client.objects.filter(email="ann@example.org").exists()

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', asked.content.decode())[1]
    done = browser.post(link, {"csrfmiddlewaretoken": token})

    assert done.status_code == 200 and "You are subscribed" in done.content.decode()
    client = Client.objects.get(owner=shop_list.owner, email="ann@example.org")
    assert client.full_name == "Ann Baker"
    membership = Membership.objects.get(client_list=shop_list, client=client)
    assert membership.source == "form"
    consent = Subscription.objects.get(client_list=shop_list)
    assert consent.confirmed_at is not None and consent.ip == "127.0.0.1"
    assert browser.get(link).content.decode().count("You are subscribed") == 1  # used again
    assert browser.post(link, {"csrfmiddlewaretoken": token}).status_code == 200
    assert Membership.objects.filter(client_list=shop_list).count() == 1


def test_an_address_on_the_list_gets_the_same_answer_as_a_new_one(
    shop_list, smtp_server, committed
):
    known = ClientFactory(owner=shop_list.owner, email="known@example.org")
    Membership.objects.create(client_list=shop_list, client=known)

    new = sign_up(Browser(), shop_list, committed, email="new@example.org")
    again = sign_up(Browser(), shop_list, committed, email="known@example.org")

    def page(response, email):
        return response.content.decode().replace(email, "ADDRESS")

    assert new.status_code == again.status_code == 200
    assert page(new, "new@example.org") == page(again, "known@example.org")
    assert sorted(m.rcpt_tos[0] for m in smtp_server.received) == [
        "known@example.org",
        "new@example.org",
    ]


def test_confirming_subscribes_again_someone_who_had_left(shop_list, smtp_server, committed):
    gone = ClientFactory(owner=shop_list.owner, email="back@example.org")
    Client.objects.filter(pk=gone.pk).update(unsubscribed_at="2026-01-01T00:00Z")
    sign_up(Browser(), shop_list, committed, email="BACK@example.org")
    browser = Browser()

    browser.post(link_in(smtp_server.received[0]))

    back = Client.objects.get(pk=gone.pk)
    assert back.unsubscribed_at is None
    assert Client.objects.filter(owner=shop_list.owner).count() == 1  # the same client
    assert Membership.objects.filter(client_list=shop_list, client=back).exists()


def test_the_honeypot_refuses_with_a_message(shop_list, smtp_server, committed):
    answer = sign_up(Browser(), shop_list, committed, website="http://spam.example")

    assert answer.status_code == 400
    assert "looks automated" in answer.content.decode()
    assert not Subscription.objects.exists() and smtp_server.received == []


def test_the_throttle_refuses_per_address_and_per_ip(shop_list, smtp_server, committed, settings):
    settings.SUBSCRIBE_LIMIT_PER_HOUR = 2
    settings.SUBSCRIBE_IP_LIMIT_PER_HOUR = 3
    browser = Browser()
    codes = [sign_up(browser, shop_list, committed).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    other = sign_up(browser, shop_list, committed, email="other@example.org")
    assert other.status_code == 200  # another address, and the IP's third
    refused = sign_up(browser, shop_list, committed, email="third@example.org")
    assert refused.status_code == 429 and "Too many sign-ups" in refused.content.decode()
    assert len(smtp_server.received) == 3


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "not an address"},
        {"email": "a@" + "x" * 300 + ".org"},
        {"full_name": ""},
        {"full_name": "   "},
        {"full_name": "x" * 10_000},
        {"email": "ann\x00@example.org"},
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_kept(shop_list, smtp_server, committed, fields):
    answer = sign_up(Browser(), shop_list, committed, **fields)

    assert answer.status_code == 400
    assert not Subscription.objects.exists() and smtp_server.received == []


@pytest.mark.parametrize("token", ["nope", "x" * 5000, "%00", "../admin"])
def test_an_unknown_form_is_a_404(db, token):
    assert Browser().get(f"/subscribe/{token}/").status_code == 404


def test_a_blocked_owner_s_form_is_gone(shop_list):
    type(shop_list.owner).objects.filter(pk=shop_list.owner_id).update(is_active=False)
    assert Browser().get(form_url(shop_list)).status_code == 404


@pytest.mark.parametrize("token", ["garbage", "1:abc:def", "x" * 3000])
def test_a_bad_confirmation_link_says_so(db, token):
    response = Browser().get(f"/subscribe/confirm/{token}/")
    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_the_form_is_never_served_from_the_page_cache(shop_list, client):
    first = Browser().get(form_url(shop_list))
    shop_list.description = "Changed"
    shop_list.save()
    assert "Changed" in Browser().get(form_url(shop_list)).content.decode()
    assert first.status_code == 200


def test_the_mail_speaks_the_language_of_the_page(shop_list, smtp_server, committed, settings):
    settings.SUBSCRIBE_CONFIRMATION_DAYS = 7
    browser = Browser(HTTP_ACCEPT_LANGUAGE="ru")
    page = browser.get(form_url(shop_list)).content.decode()
    assert "Подписаться" in page

    sign_up(browser, shop_list, committed)

    (mail,) = smtp_server.received
    assert str(mail.message["Subject"]).strip() == "Подтвердите подписку на «Bakery news»"
    assert "Ссылка действует 7 дней." in mail.message.get_content()
