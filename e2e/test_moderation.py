"""Journey 3: a manager opens everyone's mailings, disables one, and blocks its owner; the
owner, signed in meanwhile in a browser of their own, is signed out and cannot sign in again.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from e2e.helpers import choose_action, expect_success, log_in, open_menu_item, sidebar
from mailings.models import Mailing
from tests.factories import MailingFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def mailing_of(email: str, name: str) -> Mailing:
    owner = UserFactory(role="Users", email=email)
    mailing = MailingFactory(
        owner=owner,
        name=name,
        message=MessageFactory(owner=owner, subject=name),
        start_at=timezone.now() + timedelta(days=1),
    )
    return mailing


def test_a_manager_disables_a_mailing_and_blocks_its_owner(open_page):
    UserFactory(role="Managers", email="manager@example.com")
    shop = mailing_of("shop@example.com", "Shop weekly deals")
    mailing_of("bakery@example.com", "Fresh bread on Fridays")

    owner = open_page("owner")
    log_in(owner, "shop@example.com")
    open_menu_item(owner, "Mailings", "Mailings")
    expect(owner.locator("table.listing tbody tr")).to_have_text([re.compile("Shop weekly deals")])

    manager = open_page()
    log_in(manager, "manager@example.com")
    open_menu_item(manager, "Mailings", "Mailings")
    rows = manager.locator("table.listing tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Shop weekly deals")).to_contain_text("shop@example.com")
    expect(rows.filter(has_text="Fresh bread on Fridays")).to_contain_text("bakery@example.com")
    expect(manager.locator("table.listing thead")).to_contain_text("Owner")

    toggle = rows.filter(has_text="Shop weekly deals").get_by_role(
        "button", name=re.compile("More options")
    )
    choose_action(manager, toggle, "Disable")
    expect(manager.locator("main")).to_contain_text("Disable this mailing?")
    manager.locator("main").get_by_role("button", name="Disable").click()

    expect_success(manager, "Mailing disabled.")
    expect(manager.locator('[data-field="status"]')).to_contain_text("disabled")
    shop.refresh_from_db()
    assert shop.is_enabled is False

    sidebar(manager).get_by_role("link", name="Users", exact=True).click()
    account = manager.locator("table.listing tbody tr").filter(has_text="shop@example.com")
    account.get_by_role("link", name="Block").click()
    expect(manager.locator("main")).to_contain_text("Block shop@example.com?")
    manager.locator("main").get_by_role("button", name="Block").click()

    expect_success(manager, "shop@example.com is blocked.")
    expect(account).to_contain_text("blocked")
    expect(account.get_by_role("link", name="Unblock")).to_be_visible()
    assert User.objects.get(email="shop@example.com").is_blocked

    owner.reload()  # their next request

    expect(owner).to_have_url(re.compile(r"/admin/login/\?next="))
    log_in(owner, "shop@example.com")
    expect(
        owner.get_by_text("This account is blocked. Please contact the service's managers.")
    ).to_be_visible()
    expect(owner).to_have_url(re.compile(r"/admin/login/"))
