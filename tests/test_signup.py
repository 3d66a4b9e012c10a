"""Sign-up with e-mail confirmation, from the form to the first page of the admin."""

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


def test_the_whole_journey_from_sign_up_to_the_admin(client, smtp_server):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200 and 'name="password2"' in page.content.decode()

    response = client.post("/accounts/signup/", FORM)

    assert response.status_code == 200
    assert "We sent a confirmation link to newshop@example.com" in response.content.decode()
    user = User.objects.get(email="newshop@example.com")
    assert user.is_active is False
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["newshop@example.com"]

    landing = client.get(path_of(confirmation_link(mail)), follow=True)

    assert landing.redirect_chain[-1][0].rstrip("/").endswith("/admin")
    user.refresh_from_db()
    assert user.is_active and user.email_confirmed_at is not None
    assert list(user.groups.values_list("name", flat=True)) == ["Users"]
    menu = re.search(
        r'id="wagtail-sidebar-props"[^>]*>(.*?)</script>', landing.content.decode(), re.S
    ).group(1)
    assert '"Mailings"' in menu
    for hidden in ('"Pages"', '"Images"', '"Documents"', '"Reports"', '"Help"', '"Users"'):
        assert hidden not in menu


def test_signing_up_again_while_pending_resends_the_link(client, smtp_server):
    client.post("/accounts/signup/", FORM)
    again = client.post("/accounts/signup/", {**FORM, "first_name": "Nora"})

    assert again.status_code == 200
    assert "sent a new link" in again.content.decode()
    assert len(smtp_server.received) == 2
    assert User.objects.filter(email__iexact=FORM["email"]).count() == 1
    assert User.objects.get(email=FORM["email"]).first_name == "Nora"


def test_an_address_with_a_confirmed_account_is_a_form_error(client, smtp_server):
    User.objects.create_user(FORM["email"], "whatever-Pass-1")

    response = client.post("/accounts/signup/", {**FORM, "email": FORM["email"].upper()})

    assert response.status_code == 400
    assert "An account with this address exists" in response.content.decode()
    assert smtp_server.received == []


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


def test_a_reused_link_gets_a_clear_page(client, smtp_server):
    client.post("/accounts/signup/", FORM)
    link = path_of(confirmation_link(smtp_server.received[0]))
    client.get(link)
    client.logout()

    again = client.get(link)

    assert again.status_code == 400
    assert "This link was already used" in again.content.decode()


def test_an_expired_link_activates_nothing(client, smtp_server, settings):
    client.post("/accounts/signup/", FORM)
    settings.ACCOUNT_CONFIRMATION_DAYS = -1

    response = client.get(path_of(confirmation_link(smtp_server.received[0])))

    assert response.status_code == 400
    assert "This link has expired" in response.content.decode()
    assert User.objects.get(email=FORM["email"]).is_active is False


@pytest.mark.parametrize("mangle", [lambda t: t[:-3] + "abc", lambda t: "x" + t, lambda t: "nope"])
def test_a_tampered_link_activates_nothing(client, smtp_server, mangle):
    client.post("/accounts/signup/", FORM)
    user = User.objects.get(email=FORM["email"])

    response = client.get(f"/accounts/confirm/{mangle(make_token(user.pk))}/")

    assert response.status_code == 400
    assert "This link is not valid" in response.content.decode()
    user.refresh_from_db()
    assert user.is_active is False


def test_an_unconfirmed_account_is_told_to_confirm_and_can_resend(client, smtp_server):
    client.post("/accounts/signup/", FORM)

    response = client.post(
        "/admin/login/", {"username": FORM["email"], "password": FORM["password1"]}
    )

    html = response.content.decode()
    assert "Please confirm your e-mail address first" in html
    assert 'href="/accounts/resend/"' in html
    resend = client.post("/accounts/resend/", {"email": FORM["email"]})
    assert "a new link is on its way" in resend.content.decode()
    assert len(smtp_server.received) == 2
    unknown = client.post("/accounts/resend/", {"email": "nobody@example.com"})
    assert "a new link is on its way" in unknown.content.decode()
    assert len(smtp_server.received) == 2


def test_sign_up_still_works_when_the_mail_server_is_down(client, settings):
    from tests.support.processes import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()

    response = client.post("/accounts/signup/", FORM)

    assert response.status_code == 200
    assert "could not be sent just now" in response.content.decode()
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


def test_password_reset_through_wagtail_works_with_the_e_mail_login(client, mailoutbox):
    User.objects.create_user("forgetful@example.com", "old-Password-123", is_active=True)

    client.post("/admin/password_reset/", {"email": "forgetful@example.com"})

    (mail,) = mailoutbox
    link = re.search(r"https?://\S+/admin/password_reset/confirm/\S+/", mail.body).group(0)
    form_page = client.get(path_of(link), follow=True)
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path_of(link)
    done = client.post(
        set_url, {"new_password1": "new-Password-456", "new_password2": "new-Password-456"}
    )
    assert done.status_code == 302
    assert client.login(username="forgetful@example.com", password="new-Password-456")
