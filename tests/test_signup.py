"""Sign-up with e-mail confirmation, from the form to the first page of the admin. The mails
go out through the worker (here, in the test's process, once the request has committed)."""

import re

import pytest

from accounts.models import User
from accounts.tokens import make_token

pytestmark = pytest.mark.django_db

FORM = {
    "email": "newshop@example.com",
    "first_name": "Nina",
    "last_name": "Novak",
    "password1": "a-Good-passphrase-42",
    "password2": "a-Good-passphrase-42",
}


def confirmation_link(received) -> str:
    body = received.message.get_content()
    return re.search(r"https?://\S+/accounts/confirm/\S+/", body).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_whole_journey_from_sign_up_to_the_admin(client, smtp_server, committed):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200 and 'name="password2"' in page.content.decode()

    response = committed(client.post, "/accounts/signup/", FORM)

    assert response.status_code == 200
    assert "We are sending a message to newshop@example.com" in response.content.decode()
    user = User.objects.get(email="newshop@example.com")
    assert user.is_active is False
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["newshop@example.com"]
    link = path_of(confirmation_link(mail))

    page = client.get(link)
    assert page.status_code == 200 and "Confirm and sign in" in page.content.decode()
    landing = client.post(link, follow=True)

    assert landing.redirect_chain[-1][0].rstrip("/").endswith("/admin")
    user.refresh_from_db()
    assert user.is_active and user.email_confirmed_at is not None
    assert list(user.groups.values_list("name", flat=True)) == ["Users"]
    menu = re.search(
        r'id="wagtail-sidebar-props"[^>]*>(.*?)</script>', landing.content.decode(), re.S
    ).group(1)
    assert '"Mailings"' in menu
    # Images: their own uploads only (tests/test_composed_mail.py).
    for hidden in ('"Pages"', '"Documents"', '"Reports"', '"Help"', '"Users"'):
        assert hidden not in menu


def test_signing_up_again_while_pending_resends_the_link_and_changes_nothing(
    client, smtp_server, committed
):
    committed(client.post, "/accounts/signup/", FORM)
    password = User.objects.get(email=FORM["email"]).password
    again = committed(client.post, "/accounts/signup/", {**FORM, "first_name": "Nora"})

    assert again.status_code == 200
    assert "We are sending a message to" in again.content.decode()
    assert len(smtp_server.received) == 2
    assert User.objects.filter(email__iexact=FORM["email"]).count() == 1
    user = User.objects.get(email=FORM["email"])
    assert (user.first_name, user.password) == ("Nina", password)


def test_an_address_with_a_confirmed_account_gets_a_note_instead(client, smtp_server, committed):
    User.objects.create_user(FORM["email"], "whatever-Pass-1", first_name="Olga")

    response = committed(client.post, "/accounts/signup/", {**FORM, "email": FORM["email"].upper()})

    assert response.status_code == 200
    assert "We are sending a message to" in response.content.decode()
    (note,) = smtp_server.received
    body = note.message.get_content()
    assert note.rcpt_tos == [FORM["email"]]
    assert "you already have an account" in body
    assert "/admin/login/" in body and "/admin/password_reset/" in body
    assert "/accounts/confirm/" not in body


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password1": "short", "password2": "short"}, "too short"),
        ({"password2": "something-else-42"}, "The two passwords differ."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"password1": "newshop2024x", "password2": "newshop2024x"}, "too similar"),
    ],
)
def test_bad_sign_up_input_is_a_form_error(client, smtp_server, changes, message):
    response = client.post("/accounts/signup/", {**FORM, **changes})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_a_reused_link_gets_a_clear_page(client, smtp_server, committed):
    committed(client.post, "/accounts/signup/", FORM)
    link = path_of(confirmation_link(smtp_server.received[0]))
    client.post(link)
    client.logout()

    for again in (client.get(link), client.post(link)):
        assert again.status_code == 400
        assert "This link was already used" in again.content.decode()


def test_an_expired_link_activates_nothing(client, smtp_server, settings, committed):
    committed(client.post, "/accounts/signup/", FORM)
    settings.ACCOUNT_CONFIRMATION_DAYS = -1

    response = client.post(path_of(confirmation_link(smtp_server.received[0])))

    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    assert User.objects.get(email=FORM["email"]).is_active is False


@pytest.mark.parametrize("mangle", [lambda t: t[:-3] + "abc", lambda t: "x" + t, lambda t: "nope"])
def test_a_tampered_link_activates_nothing(client, mangle):
    client.post("/accounts/signup/", FORM)
    user = User.objects.get(email=FORM["email"])

    response = client.post(f"/accounts/confirm/{mangle(make_token(user))}/")

    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active is False


def test_an_unconfirmed_account_is_told_to_confirm_and_can_resend(client, smtp_server, committed):
    committed(client.post, "/accounts/signup/", FORM)

    response = client.post(
        "/admin/login/", {"username": FORM["email"], "password": FORM["password1"]}
    )

    html = response.content.decode()
    assert "Please confirm your e-mail address first" in html
    assert 'href="/accounts/resend/"' in html
    resend = committed(client.post, "/accounts/resend/", {"email": FORM["email"]})
    assert "a new link is on its way" in resend.content.decode()
    assert len(smtp_server.received) == 2
    unknown = committed(client.post, "/accounts/resend/", {"email": "nobody@example.com"})
    assert "a new link is on its way" in unknown.content.decode()
    assert len(smtp_server.received) == 2


def test_sign_up_never_waits_for_the_mail_server(client, settings, mailoutbox):
    from tests.support.processes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    response = client.post("/accounts/signup/", FORM)

    assert response.status_code == 200
    assert "We are sending a message to" in response.content.decode()
    assert User.objects.filter(email=FORM["email"], is_active=False).exists()


def test_sign_up_is_throttled_per_address(client, smtp_server, settings):
    settings.SIGNUP_LIMIT_PER_HOUR = 2
    for number in range(2):
        ok = client.post("/accounts/signup/", {**FORM, "email": f"shop{number}@example.com"})
        assert ok.status_code == 200

    refused = client.post("/accounts/signup/", {**FORM, "email": "shop9@example.com"})

    assert refused.status_code == 429
    assert "Too many sign-ups from your address" in refused.content.decode()
    assert not User.objects.filter(email="shop9@example.com").exists()


def test_password_reset_through_wagtail_works_with_the_e_mail_login(client, mailoutbox, committed):
    User.objects.create_user("forgetful@example.com", "old-Password-123", is_active=True)

    committed(client.post, "/admin/password_reset/", {"email": "forgetful@example.com"})

    (mail,) = mailoutbox
    link = re.search(r"https?://\S+/admin/password_reset/confirm/\S+/", mail.body).group(0)
    form_page = client.get(path_of(link), follow=True)
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path_of(link)
    done = client.post(
        set_url, {"new_password1": "new-Password-456", "new_password2": "new-Password-456"}
    )
    assert done.status_code == 302
    assert client.login(username="forgetful@example.com", password="new-Password-456")


def test_the_worker_writes_the_mail_in_the_language_of_the_sign_up_page(
    client, mailoutbox, committed
):
    response = committed(client.post, "/accounts/signup/", FORM, HTTP_ACCEPT_LANGUAGE="ru")

    assert response.status_code == 200
    (mail,) = mailoutbox
    assert mail.subject == "Подтвердите адрес e-mail"
    assert "Подтвердите адрес e-mail, чтобы начать пользоваться сервисом рассылок" in mail.body
