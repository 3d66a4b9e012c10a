"""Attacks on accounts from the outside review (issue 15), each replayed against the service:
sign-up takeover, throttles with the cache down or behind a proxy, unproven address changes,
sessions that outlive a block, account enumeration, links that act on GET, mail sent inside
the request, escaped plain text."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.sessions.models import Session
from django.test import Client as Browser

from accounts.models import User
from site_config import degraded
from site_config.celery import app
from tests.factories import SuperuserFactory, UserFactory
from tests.support.worker import worker_in_process

pytestmark = pytest.mark.django_db

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
PASSWORD = "correct-horse-battery"
FORM = {
    "email": "victim@example.com",
    "first_name": "Vera",
    "last_name": "Victim",
    "password1": "Victim-own-pass-123",
    "password2": "Victim-own-pass-123",
}


def link_in(mail, path: str) -> str:
    body = mail.body if hasattr(mail, "body") else mail.message.get_content()
    url = re.search(rf"https?://\S+{path}\S+/", body).group(0)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def signs_in(email: str, password: str) -> bool:
    response = Browser().post("/admin/login/", {"username": email, "password": password})
    return response.status_code == 302


# --- 2. Sign-up takeover before confirmation ---------------------------------------------------


def test_a_second_sign_up_cannot_take_over_an_account_waiting_for_confirmation(
    client, mailoutbox, committed
):
    committed(client.post, "/accounts/signup/", FORM)
    first_link = link_in(mailoutbox[0], "/accounts/confirm/")
    attacker = {**FORM, "email": "VICTIM@example.com", "first_name": "Mallory"}
    attacker.update(password1="Attacker-pass-999", password2="Attacker-pass-999")
    committed(Browser().post, "/accounts/signup/", attacker)

    victim = Browser()
    assert victim.post(first_link).status_code == 302

    user = User.objects.get(email=FORM["email"])
    assert user.is_active and user.first_name == "Vera"
    assert signs_in(FORM["email"], FORM["password1"])
    assert not signs_in(FORM["email"], "Attacker-pass-999")


def test_a_confirmation_link_dies_when_the_account_changes(client, mailoutbox, committed):
    committed(client.post, "/accounts/signup/", FORM)
    link = link_in(mailoutbox[0], "/accounts/confirm/")
    user = User.objects.get(email=FORM["email"])
    user.set_password("Changed-by-someone-1")
    user.save()

    response = client.post(link)

    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active


# --- 4. The cache (Redis) unreachable -----------------------------------------------------------


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    degraded.forget()
    yield
    degraded.forget()


def test_sign_in_and_sign_up_work_with_the_cache_down_and_say_so_once(
    client, cache_down, caplog, committed
):
    user = UserFactory(role="Users", email="steady@example.com")
    caplog.set_level(logging.WARNING, logger="site_config.degraded")

    for _ in range(3):
        wrong = Browser().post("/admin/login/", {"username": user.email, "password": "nope"})
        assert wrong.status_code == 200 and "didn&#x27;t match" in wrong.content.decode()
    assert signs_in(user.email, PASSWORD)
    signup = committed(client.post, "/accounts/signup/", FORM)
    assert signup.status_code == 200
    assert "We are sending a message to" in signup.content.decode()
    assert User.objects.filter(email=FORM["email"], is_active=False).exists()

    warnings = [r for r in caplog.records if "not throttled" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


# --- 9. Throttles behind the reverse proxy; Unicode variants of an address ---------------------


def test_behind_the_proxy_one_clients_failures_lock_out_only_that_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="usera@example.com")
    userb = UserFactory(email="userb@example.com")
    # nginx on 127.0.0.1 appends the address it was connected from.
    attacker = Browser(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    for _ in range(3):
        attacker.post("/admin/login/", {"username": "usera@example.com", "password": "nope"})

    someone_else = Browser(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    response = someone_else.post("/admin/login/", {"username": userb.email, "password": PASSWORD})
    assert response.status_code == 302

    # The attacker cannot pose as someone else: what it sends stays left of what nginx wrote.
    spoofed = Browser(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.5")
    refused = spoofed.post("/admin/login/", {"username": userb.email, "password": PASSWORD})
    assert "Too many failed sign-in attempts" in refused.content.decode()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings, rf):
    from accounts.throttling import client_address

    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert client_address(request) == "192.0.2.1"
    settings.TRUSTED_PROXY_COUNT = 2
    request = rf.get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5, 10.0.0.1"
    )
    assert client_address(request) == "203.0.113.5"
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1")
    assert client_address(request) == "10.0.0.2"  # not through both proxies


@pytest.mark.parametrize("variant", ["USERA@example.com", "u\u017fera@example.com"])
def test_a_case_variant_of_an_address_shares_its_sign_in_throttle(settings, variant):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="usera@example.com")
    for _ in range(3):
        Browser(REMOTE_ADDR="192.0.2.2").post(
            "/admin/login/", {"username": "usera@example.com", "password": "nope"}
        )

    response = Browser(REMOTE_ADDR="192.0.2.4").post(
        "/admin/login/", {"username": variant, "password": PASSWORD}
    )

    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()


# --- 13. Changing one's address needs the new mailbox ------------------------------------------


def account_form(user, **changes) -> dict:
    return {
        "name_email-first_name": user.first_name,
        "name_email-last_name": user.last_name,
        "email-email": user.email,
        "locale-preferred_language": "en",
        "locale-current_time_zone": "",
        "theme-theme": "system",
        "theme-contrast": "system",
        "theme-density": "default",
        "theme-keyboard_shortcuts": "on",
        **changes,
    }


def test_the_address_cannot_be_changed_without_a_confirmation(client, mailoutbox, committed):
    owner = UserFactory(role="Users", email="userb@example.com")
    client.force_login(owner)

    response = committed(
        client.post,
        "/admin/account/",
        account_form(owner, **{"name_email-email": "someone-else@victim.example"}),
    )

    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.email == "userb@example.com"
    assert not signs_in("someone-else@victim.example", PASSWORD)


def test_a_new_address_takes_effect_when_its_link_is_followed(client, mailoutbox, committed):
    owner = UserFactory(role="Users", email="userb@example.com")
    client.force_login(owner)

    response = committed(
        client.post, "/admin/account/", account_form(owner, **{"email-email": "new@example.org"})
    )

    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.email == "userb@example.com"  # the old one stays until confirmed
    (mail,) = mailoutbox
    assert mail.to == ["new@example.org"]
    link = link_in(mail, "/accounts/email/")
    page = Browser().get(link)
    assert page.status_code == 200 and "new@example.org" in page.content.decode()
    owner.refresh_from_db()
    assert owner.email == "userb@example.com"  # a GET (a link scanner) changes nothing

    assert client.post(link).status_code == 302
    owner.refresh_from_db()
    assert owner.email == "new@example.org"
    assert signs_in("new@example.org", PASSWORD)
    assert client.post(link).status_code == 400  # used up


def test_another_accounts_address_in_another_case_is_a_form_error(client):
    UserFactory(email="usera@example.com")
    owner = UserFactory(role="Users", email="userb@example.com")
    client.force_login(owner)

    response = client.post(
        "/admin/account/", account_form(owner, **{"email-email": "USERA@EXAMPLE.COM"})
    )

    assert response.status_code == 200
    assert "Another account uses this address." in response.content.decode()
    owner.refresh_from_db()
    assert owner.email == "userb@example.com"


# --- 16. Blocking ends sessions; unblocking does not confirm ------------------------------------


def moderator():
    return SuperuserFactory(email="root@example.com")


def test_unblocking_does_not_revive_the_old_sessions():
    owner = UserFactory(role="Users", email="shop@example.com")
    old_session = Browser()
    old_session.force_login(owner)
    assert old_session.get("/admin/").status_code == 200
    root = Browser()
    root.force_login(moderator())

    root.post(f"/admin/accounts/users/{owner.pk}/block/")
    assert not Session.objects.filter(session_key=old_session.session.session_key).exists()
    root.post(f"/admin/accounts/users/{owner.pk}/unblock/")

    response = old_session.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert signs_in(owner.email, PASSWORD)  # the account itself is back


def test_block_then_unblock_leaves_a_pending_account_pending(client):
    client.post("/accounts/signup/", FORM)
    pending = User.objects.get(email=FORM["email"])
    root = Browser()
    root.force_login(moderator())

    root.post(f"/admin/accounts/users/{pending.pk}/block/")
    root.post(f"/admin/accounts/users/{pending.pk}/unblock/")

    pending.refresh_from_db()
    assert pending.is_pending_confirmation and not pending.is_active
    assert not signs_in(FORM["email"], FORM["password1"])


# --- 17. No account enumeration ----------------------------------------------------------------


def test_sign_up_answers_the_same_for_new_pending_and_confirmed_addresses(client):
    UserFactory(email="confirmed@example.com")
    client.post("/accounts/signup/", {**FORM, "email": "pending@example.com"})

    def answer(email: str) -> tuple[int, str]:
        response = Browser().post("/accounts/signup/", {**FORM, "email": email})
        page = response.content.decode().replace(email, "ADDRESS")
        return response.status_code, re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)

    new, pending, confirmed = (
        answer(email)
        for email in ("new@example.com", "pending@example.com", "confirmed@example.com")
    )
    assert new == pending == confirmed
    assert new[0] == 200


class CountingHasher(MD5PasswordHasher):
    """The test suite's hasher, counting how many times a password is hashed."""

    algorithm = "md5"
    hashed = 0

    def encode(self, password, salt):
        CountingHasher.hashed += 1
        return super().encode(password, salt)


def test_a_wrong_password_costs_one_hash_whatever_the_account(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    active = UserFactory(email="active@example.com")
    blocked = UserFactory(email="blocked@example.com", is_active=False)
    User.objects.filter(pk=blocked.pk).update(blocked_at="2026-01-01T00:00Z")
    pending = UserFactory(email="pending@example.com", is_active=False)

    def hashes_for(email: str) -> int:
        CountingHasher.hashed = 0
        Browser().post("/admin/login/", {"username": email, "password": "wrong-password"})
        return CountingHasher.hashed

    costs = {
        email: hashes_for(email)
        for email in (active.email, blocked.email, pending.email, "nobody@example.com")
    }
    assert set(costs.values()) == {1}, costs


def test_password_reset_is_mailed_by_the_worker_not_in_the_request(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="forgetful@example.com")

    with django_capture_on_commit_callbacks() as queued:
        response = client.post("/admin/password_reset/", {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert mailoutbox == []  # nothing sent while the request ran

    with worker_in_process():
        for publish in queued:
            publish()
    (mail,) = mailoutbox
    assert mail.to == ["forgetful@example.com"]
    assert "/admin/password_reset/confirm/" in mail.body


def test_password_reset_is_throttled_per_address_and_per_client(settings, mailoutbox, committed):
    settings.SIGNUP_LIMIT_PER_HOUR = 2
    UserFactory(email="forgetful@example.com")
    UserFactory(email="other@example.com")

    for number in range(4):  # one address, from four clients
        client = Browser(REMOTE_ADDR=f"192.0.2.{number + 10}")
        response = committed(
            client.post, "/admin/password_reset/", {"email": "forgetful@example.com"}
        )
        assert response.status_code == 302  # the same answer, sent or not
    assert len(mailoutbox) == 2

    mailoutbox.clear()
    one_client = Browser(REMOTE_ADDR="192.0.2.99")
    for email in ("other@example.com", "nobody@example.com", "other@example.com"):
        committed(one_client.post, "/admin/password_reset/", {"email": email})
    assert [mail.to for mail in mailoutbox] == [["other@example.com"]]


# --- 18. The confirmation link acts only on POST -------------------------------------------------


def test_opening_a_confirmation_link_confirms_nothing_and_signs_nobody_in(
    client, mailoutbox, committed
):
    committed(client.post, "/accounts/signup/", FORM)
    link = link_in(mailoutbox[0], "/accounts/confirm/")
    scanner = Browser()

    page = scanner.get(link)

    assert page.status_code == 200
    assert "Confirm and sign in" in page.content.decode() and "<form" in page.content.decode()
    assert not User.objects.get(email=FORM["email"]).is_active
    assert scanner.get("/admin/").status_code == 302  # not signed in

    forged = Browser(enforce_csrf_checks=True).post(link)  # from another site: no CSRF token
    assert forged.status_code == 403
    assert not User.objects.get(email=FORM["email"]).is_active


# --- 20. Mail goes out through the worker; the broker down is no 500 -----------------------------


def test_sign_up_mail_is_sent_by_the_worker_not_in_the_request(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        response = client.post("/accounts/signup/", FORM)
    assert response.status_code == 200
    assert mailoutbox == []

    with worker_in_process():
        for publish in queued:
            publish()
    (mail,) = mailoutbox
    assert mail.to == [FORM["email"]]


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_sends_the_sign_up_link(client):
    from tests.support.processes import (
        celery_worker,
        database_url_for_processes,
        use_default_queue,
        wait_until,
    )
    from tests.support.smtp import TestSMTPServer

    queue = f"test-accounts-{uuid.uuid4().hex[:10]}"
    saved_queue = app.conf.task_default_queue
    with TestSMTPServer() as smtp:
        worker = celery_worker(
            queue=queue,
            env={"DATABASE_URL": database_url_for_processes()},
            settings={
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": smtp.port,
                "EMAIL_TIMEOUT": 5,
            },
        )
        use_default_queue(queue)
        try:
            response = client.post("/accounts/signup/", FORM)
            assert response.status_code == 200
            assert "We are sending a message to" in response.content.decode()
            assert wait_until(lambda: len(smtp.received) == 1, timeout=60), worker.output()
        finally:
            use_default_queue(saved_queue)
            worker.stop()

    (mail,) = smtp.received
    assert mail.rcpt_tos == [FORM["email"]]
    assert client.post(link_in(mail, "/accounts/confirm/")).status_code == 302
    assert User.objects.get(email=FORM["email"]).is_active


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_sign_up_with_the_broker_down_answers_and_asks_to_resend_later(
    client, broker_down, caplog, mailoutbox
):
    response = client.post("/accounts/signup/", FORM)

    assert response.status_code == 200
    page = response.content.decode()
    assert "could not be sent just now" in page and 'href="/accounts/resend/"' in page
    assert "could not enqueue accounts.tasks.send_confirmation" in caplog.text
    assert User.objects.filter(email=FORM["email"], is_active=False).exists()
    assert mailoutbox == []

    resend = client.post("/accounts/resend/", {"email": FORM["email"]})
    assert resend.status_code == 200
    assert "could not be sent just now" in resend.content.decode()


# --- 21. Plain-text mail is plain ----------------------------------------------------------------


def test_the_confirmation_mail_is_plain_text_and_relays_no_long_text(client, mailoutbox, committed):
    committed(client.post, "/accounts/signup/", {**FORM, "first_name": "O'Brien"})
    long_name = "Visit-http://evil.example/claim-your-prize-now " + "x" * 100
    other = {**FORM, "email": "target@example.com", "first_name": long_name}
    committed(client.post, "/accounts/signup/", other)

    first, second = (mail.body for mail in mailoutbox)
    assert "Hello O'Brien," in first and "&#x27;" not in first
    assert second.startswith("Hello,\n") and "evil" not in second and "xxx" not in second
