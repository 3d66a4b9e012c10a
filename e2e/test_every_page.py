"""Every admin page a user and a manager see, in English and Russian, at a laptop's width
(1366 px) and a phone's (390 px): nothing sticks out of the screen, every button says what it
does, and a Russian page carries none of the service's English phrases (issue 16)."""

from __future__ import annotations

import gettext
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from wagtail.rich_text import RichText
from wagtail.users.models import UserProfile

from e2e.helpers import log_in
from mailings import services
from mailings.models import Attempt, ClientList, Delivery, Job, Mailing, Membership, Sender
from tests.factories import ClientFactory, MailingFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = (1366, 390)
CATALOG = Path(__file__).resolve().parent.parent / "locale/ru/LC_MESSAGES/django.mo"

# What sticks out of the screen: a visible element past the right edge that no scrolling
# box holds (a wide table scrolls inside its own box, as Wagtail's do). One cut off by a box
# that hides its overflow is cut off for the reader too; one wholly past the edge (a menu
# slid away) is not shown at all.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width + 1) {
    found.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
  }
  for (const element of document.querySelectorAll('body *')) {
    if (!element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    // Wagtail's minimap of a form's sections slides in from the right edge by design.
    if (element.closest('.w-minimap')) continue;
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1 || box.left >= width) continue;
    if (getComputedStyle(element).position === 'fixed') continue;
    let held = false;
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(up).overflowX)) {
        held = true;
        break;
      }
    }
    if (!held) found.push(element.outerHTML.slice(0, 120));
  }
  return found.slice(0, 5);
}"""

# A button, or a link or input styled as one, with neither visible text nor a name given
# by aria-label, aria-labelledby, title or an image's alt.
NAMELESS = """() => {
  const named = (element) => {
    const labelled = element.getAttribute('aria-labelledby');
    const byId = labelled && labelled.split(/\\s+/)
      .map((id) => document.getElementById(id)?.textContent || '').join(' ');
    return [element.innerText, element.getAttribute('aria-label'), byId,
            element.getAttribute('title'), element.value,
            ...[...element.querySelectorAll('img[alt]')].map((img) => img.alt)]
      .some((text) => text && text.trim());
  };
  return [...document.querySelectorAll(
      'button, [role=button], a.button, input[type=submit], input[type=button]')]
    .filter((element) => element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))
    .filter((element) => !named(element))
    .map((element) => element.outerHTML.slice(0, 120));
}"""


# Text that is not the service speaking: code (column names of the import file), and what is
# marked translate="no" (an operator's sender address, people's data).
SPOKEN_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('code, [translate=no], script, style, template').forEach(
    (element) => element.remove());
  document.body.append(copy);
  copy.style.position = 'absolute';
  const text = copy.innerText;
  copy.remove();
  return text;
}"""
# A language's name is written in that language in the language choice.
OWN_NAMES = {"English"}


def english_phrases() -> list[re.Pattern]:
    """The service's own English phrases (msgids of the Russian catalogue whose Russian
    differs), as patterns of whole words: those that no Russian page may show. Short single
    words and texts with placeholders are left out: they match too much."""
    with CATALOG.open("rb") as file:
        catalog = gettext.GNUTranslations(file)._catalog
    phrases = set()
    for msgid, msgstr in catalog.items():
        if isinstance(msgid, tuple):
            msgid = msgid[0]
        if not msgid or msgid == msgstr or msgid in OWN_NAMES or re.search(r"[%{}<>]", msgid):
            continue
        words = re.findall(r"[A-Za-z]+", msgid)
        if len(words) >= 2 or (len(words) == 1 and len(words[0]) >= 6):
            phrases.add(msgid)
    return [re.compile(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])") for phrase in phrases]


def set_language(user, language: str) -> None:
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()


@pytest.fixture
def world():
    """A user's rows of every kind, in Russian (data is no translation), and a manager."""
    owner = UserFactory(role="Users", email="olga@example.ru")
    client = ClientFactory(owner=owner, email="anna@example.ru", full_name="Анна Петрова")
    message = MessageFactory(owner=owner, subject="Новости для {full_name}", body="Привет!")
    mailing = MailingFactory(
        owner=owner,
        name="Новости по понедельникам",
        message=message,
        clients=[client],
        periodicity="weekly",
        start_at=timezone.now() - timedelta(days=1),
    )
    services.mailing_save(mailing=mailing)
    run = Attempt.objects.create(
        mailing=mailing,
        scheduled_for=timezone.now() - timedelta(hours=1),
        status="failure",
        total=1,
        failed=1,
        server_response="550 нет такого ящика",
    )
    Delivery.objects.create(
        attempt=run, client=client, email=client.email, status="failed", response="550"
    )
    set_language(owner, "ru")  # the mail's own words (its footer) are in its owner's language
    composed = MessageFactory(
        owner=owner,
        subject="Весенние скидки",
        body="",
        content=[
            ("heading", "Здравствуйте, {full_name}!"),
            ("text", RichText("<p>Скидки <b>до 30 %</b> всю неделю.</p>")),
            ("button", {"label": "В магазин", "link": "https://shop.example.ru/"}),
            ("divider", None),
        ],
    )
    sender = Sender.objects.create(
        owner=owner, name="Магазин Ольги", email="news@shop.example.ru", confirmed_at=timezone.now()
    )
    Mailing.objects.filter(pk=mailing.pk).update(sender=sender, message=composed)
    customers = ClientList.objects.create(
        owner=owner, name="Покупатели", description="Раз в неделю"
    )
    Membership.objects.create(client_list=customers, client=client)
    mailing.lists.add(customers)
    manager = UserFactory(role="Managers", email="max@example.ru")
    now = timezone.now()
    imported = Job.objects.create(
        owner=owner,
        kind="import",
        state="done",
        name="клиенты-из-старой-системы.csv",
        client_list=customers,
        rows=12_503,
        created=12_001,
        updated=380,
        merged=100,
        invalid=22,
        report={
            "errors": [
                [14, "«ivan@» — некорректный адрес e-mail"],
                [220, "полное имя не указано"],
            ],
            "errors_truncated": False,
            "ignored_columns": ["Телефон"],
            "encoding": "cp1251",
            "changes": [],
        },
        finished_at=now,
    )
    review = Job.objects.create(
        owner=owner,
        kind="import",
        state="review",
        name="update.csv",
        rows=3,
        created=1,
        updated=2,
        changed=2,
        report={
            "errors": [],
            "ignored_columns": [],
            "encoding": "utf-8",
            "changes": [
                ["olga@example.ru", "full_name", "Ольга", "Ольга Иванова"],
                ["petr@example.ru", "comment", "", "постоянный покупатель"],
            ],
        },
        finished_at=now,
        expires_at=now + timedelta(days=1),
    )
    running = Job.objects.create(
        owner=owner,
        kind="import",
        state="running",
        name="big.csv",
        size=1000,
        done_bytes=400,
        rows=250_000,
        invalid=12,
    )
    exported = Job.objects.create(
        owner=owner,
        kind="export",
        state="done",
        name="clients.xlsx",
        rows=25_000,
        total=25_000,
        params={"format": "xlsx"},
        finished_at=now,
        expires_at=now + timedelta(days=1),
    )
    manager_export = Job.objects.create(
        owner=manager,
        kind="export",
        state="running",
        name="mailings.csv",
        rows=4_000,
        total=12_000,
        params={"format": "csv"},
    )
    user_pages = [
        "/admin/",
        "/admin/mailings/clients/",
        "/admin/mailings/clients/add/",
        f"/admin/mailings/clients/edit/{client.pk}/",
        f"/admin/mailings/clients/delete/{client.pk}/",
        "/admin/mailings/clients/import/",
        "/admin/mailings/messages/",
        "/admin/mailings/messages/add/",
        f"/admin/mailings/messages/edit/{message.pk}/",
        f"/admin/mailings/messages/preview/{message.pk}/",
        f"/admin/mailings/messages/edit/{composed.pk}/",
        f"/admin/mailings/messages/preview/{composed.pk}/",
        "/admin/api-tokens/",
        "/admin/api-tokens/new/",
        "/admin/mailings/lists/",
        "/admin/mailings/lists/add/",
        f"/admin/mailings/lists/edit/{customers.pk}/",
        f"/admin/mailings/lists/inspect/{customers.pk}/",
        f"/admin/bulk/mailings/client/add_to_list/?id={client.pk}",
        f"/admin/bulk/mailings/client/delete/?id={client.pk}",
        "/admin/mailings/clients/?status=bounced",
        "/admin/mailings/senders/",
        "/admin/mailings/senders/add/",
        f"/admin/mailings/senders/edit/{sender.pk}/",
        "/admin/mailings/mailings/",
        "/admin/mailings/mailings/add/",
        f"/admin/mailings/mailings/edit/{mailing.pk}/",
        f"/admin/mailings/mailings/inspect/{mailing.pk}/",
        f"/admin/mailings/mailings/send-now/{mailing.pk}/",
        f"/admin/mailings/mailings/disable/{mailing.pk}/",
        "/admin/mailings/attempts/",
        f"/admin/mailings/attempts/inspect/{run.pk}/",
        "/admin/mailings/failed-deliveries/",
        "/admin/mailings/jobs/",
        f"/admin/mailings/jobs/inspect/{imported.pk}/",
        f"/admin/mailings/jobs/inspect/{review.pk}/",
        f"/admin/mailings/jobs/inspect/{running.pk}/",
        f"/admin/mailings/jobs/inspect/{exported.pk}/",
        "/admin/account/",
    ]
    manager_pages = [
        "/admin/",
        "/admin/mailings/mailings/",
        f"/admin/mailings/mailings/inspect/{mailing.pk}/",
        f"/admin/mailings/mailings/disable/{mailing.pk}/",
        "/admin/mailings/attempts/",
        f"/admin/mailings/attempts/inspect/{run.pk}/",
        "/admin/mailings/failed-deliveries/",
        f"/admin/mailings/jobs/inspect/{manager_export.pk}/",
        "/admin/accounts/users/",
        f"/admin/accounts/users/{owner.pk}/block/",
        "/admin/users/",  # not his: the "not allowed" page
    ]
    return {"user": (owner, user_pages), "manager": (manager, manager_pages)}


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("who", ["user", "manager"])
def test_every_page_fits_names_its_buttons_and_speaks_the_language(open_page, world, who, language):
    person, pages = world[who]
    set_language(person, language)
    phrases = english_phrases() if language == "ru" else []
    assert len(phrases) > 100 or language == "en"  # the catalogue was read
    page = open_page(f"{who}-{language}", documents_may_fail=True)
    log_in(page, person.email)
    page.wait_for_url(re.compile(r"/admin/$"))

    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for path in pages:
            response = page.goto(path)
            where = f"{path} at {width} px"
            if response.status >= 500:
                problems.append(f"{where}: status {response.status}")
            assert page.locator("html").get_attribute("lang") == language, where
            problems += [f"{where}: sticks out: {html}" for html in page.evaluate(OVERFLOW)]
            problems += [
                f"{where}: button with no name: {html}" for html in page.evaluate(NAMELESS)
            ]
            if phrases and width == WIDTHS[0]:
                text = page.evaluate(SPOKEN_TEXT)
                problems += [
                    f"{where}: English on a Russian page: {phrase.pattern}"
                    for phrase in phrases
                    if phrase.search(text)
                ]

    assert problems == [], "\n".join(problems)
