"""Managers moderate: they see every mailing and disable it, see users and block them, and
change nothing else. Blocking signs the user out and stops their mailings."""

from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.utils import timezone
from wagtail.models import ModelLogEntry

from mailings import dispatching, services
from mailings.models import Attempt, MailingsLogEntry
from tests.factories import MailingFactory, SuperuserFactory, UserFactory
from tests.support.processes import wait_until
from tests.support.snapshot import snapshot

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


@pytest.fixture
def manager():
    return UserFactory(role="Managers", email="manager@example.com")


@pytest.fixture
def shop():
    owner = UserFactory(role="Users", email="shop@example.com")
    mailing = MailingFactory(owner=owner, start_at=timezone.now() - timedelta(minutes=5))
    services.mailing_save(mailing=mailing)
    return owner, mailing


def browser_for(user) -> Browser:
    browser = Browser()
    browser.force_login(user)
    return browser


def write_urls(owner, mailing):
    client, message = mailing.clients.first(), mailing.message
    return [
        "/admin/mailings/clients/add/",
        f"/admin/mailings/clients/edit/{client.pk}/",
        f"/admin/mailings/clients/delete/{client.pk}/",
        "/admin/mailings/clients/import/",
        "/admin/mailings/messages/add/",
        f"/admin/mailings/messages/edit/{message.pk}/",
        f"/admin/mailings/messages/delete/{message.pk}/",
        f"/admin/mailings/messages/send-test/{message.pk}/",
        "/admin/mailings/mailings/add/",
        f"/admin/mailings/mailings/edit/{mailing.pk}/",
        f"/admin/mailings/mailings/delete/{mailing.pk}/",
        f"/admin/mailings/mailings/send-now/{mailing.pk}/",
        "/admin/users/new/",
        f"/admin/users/edit/{owner.pk}/",
        f"/admin/users/delete/{owner.pk}/",
        "/admin/groups/new/",
    ]


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_manager_can_write_nothing(manager, shop, method):
    owner, mailing = shop
    browser = browser_for(manager)
    before = snapshot()

    for url in write_urls(owner, mailing):
        response = getattr(browser, method)(url, {"email": "x@example.org", "subject": "x"})
        assert response.status_code in (403, 404), (url, response.status_code)

    assert snapshot() == before


def test_a_manager_sees_every_users_mailings_and_filters_by_owner(manager, shop):
    owner, mailing = shop
    other = MailingFactory(
        owner=UserFactory(role="Users", email="other@example.com"), name="Other's offers"
    )
    browser = browser_for(manager)

    listing = browser.get("/admin/mailings/mailings/").content.decode()
    filtered = browser.get(f"/admin/mailings/mailings/?owner={owner.pk}").content.decode()

    assert mailing.name in listing and other.name.replace("'", "&#x27;") in listing
    assert "shop@example.com" in listing  # the Owner column
    assert mailing.name in filtered and other.name.replace("'", "&#x27;") not in filtered


def test_a_manager_disables_and_enables_a_mailing_and_it_is_logged(manager, shop):
    _, mailing = shop
    browser = browser_for(manager)

    assert browser.get(f"/admin/mailings/mailings/disable/{mailing.pk}/").status_code == 200
    browser.post(f"/admin/mailings/mailings/disable/{mailing.pk}/")
    mailing.refresh_from_db()
    assert mailing.is_enabled is False
    assert dispatching.tick_until_idle() == []

    browser.post(f"/admin/mailings/mailings/enable/{mailing.pk}/")
    mailing.refresh_from_db()
    assert mailing.is_enabled is True
    assert len(dispatching.tick_until_idle()) == 1

    actions = list(
        MailingsLogEntry.objects.filter(object_id=str(mailing.pk))
        .order_by("timestamp")
        .values_list("action", "user_id")
    )
    assert ("mailings.disable", manager.pk) in actions and (
        "mailings.enable",
        manager.pk,
    ) in actions
    history = browser.get("/admin/reports/site-history/").content.decode()
    assert "Mailing disabled" in history and "Mailing enabled" in history


def test_blocking_signs_out_refuses_login_and_stops_mailings(manager, shop):
    owner, mailing = shop
    owners_browser = browser_for(owner)
    assert owners_browser.get("/admin/").status_code == 200

    listing = browser_for(manager).get("/admin/accounts/users/").content.decode()
    assert "shop@example.com" in listing and f"/admin/accounts/users/{owner.pk}/block/" in listing
    confirm = browser_for(manager).get(f"/admin/accounts/users/{owner.pk}/block/")
    assert confirm.status_code == 200
    assert browser_for(manager).post(f"/admin/accounts/users/{owner.pk}/block/").status_code == 302

    owner.refresh_from_db()
    assert owner.is_blocked and not owner.is_active
    kicked = owners_browser.get("/admin/")
    assert kicked.status_code == 302 and "/admin/login/" in kicked["Location"]
    login = Browser().post("/admin/login/", {"username": owner.email, "password": PASSWORD})
    assert "This account is blocked" in login.content.decode()
    assert dispatching.tick_until_idle() == []
    # The manager sees why nothing goes: the switch alone would still say "Enabled".
    managers = browser_for(manager)
    assert "Owner blocked" in managers.get("/admin/mailings/mailings/").content.decode()
    inspect = managers.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()
    assert "owner blocked: nothing is sent" in inspect

    browser_for(manager).post(f"/admin/accounts/users/{owner.pk}/unblock/")
    owner.refresh_from_db()
    assert owner.is_active and not owner.is_blocked
    assert "Owner blocked" not in managers.get("/admin/mailings/mailings/").content.decode()
    again = Browser()
    response = again.post("/admin/login/", {"username": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    (attempt_id,) = dispatching.tick_until_idle()
    assert Attempt.objects.get(pk=attempt_id).mailing == mailing
    actions = set(
        ModelLogEntry.objects.filter(object_id=str(owner.pk)).values_list("action", flat=True)
    )
    assert {"accounts.block", "accounts.unblock"} <= actions
    history = browser_for(manager).get("/admin/reports/site-history/").content.decode()
    assert "User blocked" in history and "User unblocked" in history


def test_a_manager_cannot_block_a_superuser_or_themself(manager):
    root = SuperuserFactory()
    browser = browser_for(manager)

    for target in (root, manager):
        response = browser.post(f"/admin/accounts/users/{target.pk}/block/")
        assert response.status_code == 403
        target.refresh_from_db()
        assert target.is_active and not target.is_blocked


def test_an_ordinary_user_cannot_see_or_block_users(shop):
    owner, _ = shop
    victim = UserFactory(role="Users")
    browser = browser_for(owner)

    assert browser.get("/admin/accounts/users/").status_code == 403
    assert browser.post(f"/admin/accounts/users/{victim.pk}/block/").status_code == 403
    victim.refresh_from_db()
    assert victim.is_active


def test_login_is_throttled_and_the_cool_off_lifts_by_itself(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_COOLOFF_SECONDS = 2
    user = UserFactory(role="Users", email="guessme@example.com")

    for _ in range(3):
        wrong = Browser().post("/admin/login/", {"username": user.email, "password": "nope"})
        assert "didn&#x27;t match" in wrong.content.decode()
    refused = Browser().post("/admin/login/", {"username": user.email, "password": PASSWORD})

    assert refused.status_code == 200
    assert "Too many failed sign-in attempts" in refused.content.decode()

    def signs_in() -> bool:
        response = Browser().post("/admin/login/", {"username": user.email, "password": PASSWORD})
        return response.status_code == 302

    assert wait_until(signs_in, timeout=60, interval=0.5)  # the cool-off lifts by itself


def test_the_unblock_confirmation_says_unblock(manager, shop):
    # Issue 16, item 4: the page said "Block …?" with a "Block" button: Django's template
    # engine names the block being rendered ``block``, hiding the view's variable of that name.
    owner, _ = shop
    browser_for(manager).post(f"/admin/accounts/users/{owner.pk}/block/")

    page = browser_for(manager).get(f"/admin/accounts/users/{owner.pk}/unblock/")
    text = page.content.decode()

    assert f"Unblock {owner.email}?" in text
    assert f"Block {owner.email}?" not in text
    assert '<button type="submit" class="button">Unblock</button>' in text
    block_page = browser_for(manager).get(f"/admin/accounts/users/{owner.pk}/block/")
    assert f"Block {owner.email}?" in block_page.content.decode()
