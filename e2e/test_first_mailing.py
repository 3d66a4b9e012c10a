"""Journey 2: from signing up to a mailing delivered. Someone signs up, confirms through the
link in the e-mail, adds clients by hand and from a CSV file, writes a message with a
placeholder, previews it, creates a daily mailing starting now, watches the run reach
success, reads its deliveries; every client got their own message with a working unsubscribe
link, and following one unsubscribes that client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from e2e.helpers import choose_action, expect_success, open_menu_item, reload_until, text_of
from mailings.models import Client
from tests.support.processes import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

EMAIL = "nina@shop.example"
PASSWORD = "a-Good-passphrase-42"
CSV = (
    "email;full_name;comment\n"
    "boris@example.org;Boris Belov;met at the fair\n"
    "vera@example.org;Vera Volkova;\n"
)
CLIENTS = {
    "anna@example.org": "Anna Antonova",
    "boris@example.org": "Boris Belov",
    "vera@example.org": "Vera Volkova",
}
SUBJECT = "Autumn news for {full_name}"
MAILING = "Autumn news, every day"
BODY = "Hello {full_name},\n\nOur autumn prices are out.\n\nUnsubscribe: {unsubscribe_url}\n"
LINK = re.compile(r"https?://\S+/unsubscribe/[^/\s]+/")


def sign_up_and_confirm(page: Page, mail_server) -> None:
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Novak")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text(f"We are sending a message to {EMAIL}")
    # The worker sends it, not the request (issue 15).
    assert wait_until(lambda: len(mail_server.received) == 1, timeout=60)
    (mail,) = mail_server.received
    assert mail.rcpt_tos == [EMAIL]
    body = mail.message.get_content()
    link = re.search(r"https?://\S+/accounts/confirm/\S+/", body).group(0)

    page.goto(link)  # opening the link confirms nothing: the button does
    page.get_by_role("button", name="Confirm and sign in").click()

    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.locator("[data-mailings-panel]")).to_contain_text("My mailings")


def add_clients(page: Page, tmp_path) -> None:
    open_menu_item(page, "Mailings", "Clients")
    page.get_by_role("link", name="Add client").click()
    page.get_by_role("textbox", name="E-mail address").fill("anna@example.org")
    page.get_by_role("textbox", name="Full name").fill("Anna Antonova")
    page.get_by_role("button", name="Create").click()
    expect_success(page, "Anna Antonova")

    page.get_by_role("link", name="Import CSV").click()
    upload = tmp_path / "clients.csv"
    upload.write_text(CSV, encoding="utf-8")
    page.get_by_label("CSV file").set_input_files(upload)
    page.get_by_role("button", name="Import").click()

    expect(page.locator('[data-report="created"]')).to_have_text("2 clients created")
    expect(page.locator('[data-report="invalid"]')).to_have_text("0 invalid rows skipped")
    page.get_by_role("link", name="Back to clients").click()
    rows = page.locator("table.listing tbody tr")
    expect(rows).to_have_count(3)
    # sorted by name; the first cell is the bulk actions' checkbox
    expect(rows.locator("td:nth-child(3)")).to_have_text(list(CLIENTS))


def write_and_preview_message(page: Page) -> None:
    open_menu_item(page, "Mailings", "Messages")
    page.get_by_role("link", name="Add message").click()
    page.get_by_role("textbox", name="Subject").fill(SUBJECT)
    page.get_by_role("textbox", name="Plain text").fill(BODY)
    page.get_by_role("button", name="Create").click()
    expect_success(page, SUBJECT)

    page.get_by_role("link", name=SUBJECT).click()  # the edit form
    choose_action(page, page.get_by_role("button", name="Actions"), "Preview")

    # The first of her clients, by when they were added: Anna, added by hand.
    expect(page.locator('[data-preview="recipient"]')).to_have_text(
        "Anna Antonova <anna@example.org>"
    )
    expect(page.locator('[data-preview="subject"]')).to_have_text("Autumn news for Anna Antonova")
    expect(page.locator('[data-preview="body"]')).to_contain_text("Hello Anna Antonova,")
    expect(page.locator('[data-preview="body"]')).to_contain_text("/unsubscribe/example/")
    expect(page.locator('[data-preview="body"]')).not_to_contain_text("{")


def create_daily_mailing(page: Page) -> None:
    open_menu_item(page, "Mailings", "Mailings")
    page.get_by_role("link", name="Add mailing").click()
    page.get_by_role("textbox", name="Name").fill(MAILING)
    page.get_by_role("combobox", name="Message").select_option(label=SUBJECT)
    picker = page.locator("[data-client-picker]")
    expect(picker.locator("[data-picker-results] button")).to_have_count(3)
    picker.get_by_role("button", name="Add all matching").click()
    expect(picker.locator("[data-picker-summary]")).to_have_text("Chosen clients: 3")
    now = timezone.localtime()
    page.get_by_role("textbox", name="Start").fill(f"{now:%Y-%m-%d %H:%M}")
    page.get_by_role("textbox", name="End").fill(f"{now + timedelta(days=30):%Y-%m-%d %H:%M}")
    page.get_by_role("combobox", name="Periodicity").select_option(label="Daily")
    expect(page.get_by_role("checkbox", name="Enabled")).to_be_checked()
    # As a person would: a click on plain text closes the date pickers that typing left open
    # (they may cover the button). Above the dates: a picker opens below. Not on a panel's
    # heading: that is a button, which folds the panel (the Sender panel folded and the
    # pickers stayed open, one run in four).
    page.get_by_text("Each run goes to whoever is in these lists").click()
    expect(page.locator(".xdsoft_datetimepicker:visible")).to_have_count(0)
    page.get_by_role("button", name="Create").click()
    expect_success(page, MAILING)


def watch_the_run(page: Page, worker) -> None:
    rows = page.locator("table.listing tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Running")
    choose_action(
        page, rows.first.get_by_role("button", name=re.compile("More options")), "Inspect"
    )

    expect(page.locator("#mailing-clients")).to_have_text("3 clients")
    runs = page.locator("section[aria-labelledby=mailing-attempts] table tbody tr")

    def succeeded() -> bool:
        return runs.count() == 1 and runs.first.locator(".w-status").text_content().strip() == (
            "Success"
        )

    assert reload_until(page, succeeded, timeout=60), (
        f"the run did not succeed: {text_of(page.locator('main'))}\n" + worker.output()[-3000:]
    )
    expect(page.locator('[data-stat="sent"]')).to_have_text("3")
    expect(page.locator('[data-stat="success-rate"]')).to_have_text("100.0%")

    runs.first.get_by_role("link").first.click()

    expect(page.locator('[data-field="status"]')).to_have_text("Success")
    expect(page.locator('[data-field="progress"]')).to_contain_text("100%")
    expect(page.locator('[data-field="counts"]')).to_have_text("3 / 0 / 0 / 3")
    deliveries = page.locator("table tbody tr").filter(has_text="@example.org")
    expect(deliveries).to_have_count(3)
    for email in CLIENTS:
        expect(deliveries.filter(has_text=email)).to_contain_text("Sent")


def test_from_sign_up_to_a_delivered_mailing_and_an_unsubscribe(
    open_page, mail_server, worker, tmp_path
):
    page = open_page()
    sign_up_and_confirm(page, mail_server)
    add_clients(page, tmp_path)
    write_and_preview_message(page)
    create_daily_mailing(page)
    watch_the_run(page, worker)

    assert wait_until(lambda: len(mail_server.received) == 1 + len(CLIENTS), timeout=10)
    mails = {mail.rcpt_tos[0]: mail.message for mail in mail_server.received[1:]}
    assert sorted(mails) == sorted(CLIENTS)
    links = {}
    for email, name in CLIENTS.items():
        mail = mails[email]
        assert mail["Subject"] == f"Autumn news for {name}"
        body = mail.get_content()
        assert f"Hello {name}," in body
        links[email] = LINK.search(body).group(0)
        assert mail["List-Unsubscribe"].strip() == f"<{links[email]}>"
        assert mail["List-Unsubscribe-Post"].strip() == "List-Unsubscribe=One-Click"
    assert len(set(links.values())) == len(CLIENTS)

    reader = open_page("client")
    for email in CLIENTS:  # every link names its own client; opening one changes nothing
        reader.goto(links[email])
        expect(reader.locator("main")).to_contain_text(email)
        expect(reader.get_by_role("button", name="Unsubscribe")).to_be_visible()
    reader.goto(links["boris@example.org"])
    reader.get_by_role("button", name="Unsubscribe").click()

    expect(reader.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    expect(reader.locator("main")).to_contain_text("boris@example.org will get no more e-mails")
    unsubscribed = Client.objects.filter(unsubscribed_at__isnull=False)
    assert list(unsubscribed.values_list("email", flat=True)) == ["boris@example.org"]

    open_menu_item(page, "Mailings", "Clients")
    subscribed = page.locator("table.listing tbody tr").filter(has_text="boris@example.org")
    expect(subscribed.locator("[data-client-status]")).to_contain_text("Unsubscribed")
