"""Journeys of issue 18: an owner makes a list and hands out its form; a visitor signs up,
gets the link by mail, confirms, and is in the list; signing up again answers the same; the
honeypot and the rate limit refuse, with a message. Then the owner puts every client matching
a search into the list with one bulk action."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from e2e.helpers import expect_success, log_in, open_menu_item
from mailings.models import Client, ClientList
from tests.factories import ClientFactory, UserFactory
from tests.support.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LINK = re.compile(r"https?://\S+/subscribe/confirm/\S+/")


def sign_up(page: Page, url: str, name: str, email: str) -> None:
    page.goto(url)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your e-mail address").fill(email)
    page.get_by_role("button", name="Subscribe").click()


def test_a_visitor_subscribes_through_the_list_s_form(open_page, worker, mail_server, settings):
    settings.SUBSCRIBE_LIMIT_PER_HOUR = 2
    owner = UserFactory(role="Users", email="baker@shop.example")
    admin = open_page("owner")
    log_in(admin, owner.email)
    open_menu_item(admin, "Mailings", "Lists")
    admin.get_by_role("link", name="Add list").first.click()
    admin.get_by_role("textbox", name="Name").fill("Bakery news")
    admin.get_by_role("textbox", name="Description").fill("Fresh bread, every Friday.")
    admin.get_by_role("button", name="Create").click()
    expect_success(admin, "“Bakery news” is saved.")
    admin.get_by_role("link", name="Bakery news").click()  # the list's page
    form_url = admin.locator("[data-form-url]").inner_text()
    assert "/subscribe/" in form_url
    expect(admin.locator("[data-form-snippet]")).to_contain_text(form_url)

    visitor = open_page("visitor", documents_may_fail=True)  # a refusal is a 400 / 429
    sign_up(visitor, form_url, "Ann Baker", "ann@example.org")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Check your mailbox")
    first_answer = visitor.locator("[data-subscribe-sent]").inner_text()
    assert wait_until(lambda: len(mail_server.received) == 1, timeout=60)
    (mail,) = mail_server.received
    assert mail.rcpt_tos == ["ann@example.org"]
    link = LINK.search(mail.message.get_content()).group(0)

    visitor.goto(link)  # opening the link subscribes nobody: the button does
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    assert not Client.objects.filter(email="ann@example.org").exists()
    visitor.get_by_role("button", name="Confirm my subscription").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text("You are subscribed")
    bakery = ClientList.objects.get(owner=owner)
    assert list(bakery.clients.values_list("email", flat=True)) == ["ann@example.org"]

    admin.reload()
    expect(admin.locator('[data-count="total"]')).to_have_text("1")

    sign_up(visitor, form_url, "Ann Baker", "ann@example.org")  # on the list already
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Check your mailbox")
    assert visitor.locator("[data-subscribe-sent]").inner_text() == first_answer

    sign_up(visitor, form_url, "Ann Baker", "ann@example.org")  # a third time in the hour
    expect(visitor.get_by_role("alert")).to_contain_text("Too many sign-ups")

    visitor.goto(form_url)
    visitor.get_by_label("Your name").fill("Bot")
    visitor.get_by_label("Your e-mail address").fill("bot@example.org")
    expect(visitor.locator("input[name=website]")).not_to_be_in_viewport()
    visitor.locator("input[name=website]").fill("http://spam.example", force=True)
    visitor.get_by_role("button", name="Subscribe").click()
    expect(visitor.get_by_role("alert")).to_contain_text("looks automated")
    assert not Client.objects.filter(email="bot@example.org").exists()
    assert wait_until(lambda: len(mail_server.received) == 2, timeout=60)  # none for refusals


def test_the_owner_adds_every_client_matching_a_search_to_a_list(page: Page):
    owner = UserFactory(role="Users", email="florist@shop.example")
    for number in range(60):  # more than one page of the listing
        ClientFactory(owner=owner, email=f"rose{number}@example.org", comment="roses")
    ClientFactory(owner=owner, email="tulip@example.org", comment="tulips")
    ClientList.objects.create(owner=owner, name="Rose lovers")
    log_in(page, owner.email)

    page.goto("/admin/mailings/clients/?q=roses")
    page.locator("[data-bulk-action-select-all-checkbox]").first.check()
    page.get_by_role("button", name="Select all clients matching the filters").click()
    page.get_by_role("link", name="Add the selected clients to a list").click()

    expect(page.locator("[data-bulk-count]")).to_have_attribute("data-bulk-count", "60")
    page.get_by_label("List").select_option(label="Rose lovers")
    page.get_by_role("button", name="Add to list").click()

    expect_success(page, "60 clients added to “Rose lovers”.")
    roses = ClientList.objects.get(owner=owner).clients
    assert roses.count() == 60 and not roses.filter(email="tulip@example.org").exists()
