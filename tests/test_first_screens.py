"""What a first-time user, a manager and an editor see on the admin's first screens (issue 16):
the service's own name and mark, a dashboard that says what to do first, the "not allowed"
page wherever something is refused, and nothing that means nothing to them."""

import re
from datetime import timedelta

import pytest
from django.test import Client as Browser
from django.utils import timezone
from wagtail.users.models import UserProfile

from mailings import services
from mailings.models import Attempt
from tests.factories import (
    ClientFactory,
    MailingFactory,
    MessageFactory,
    SuperuserFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def addresses(html: str) -> int:
    """Table cells that hold an address (a client's, a delivery's)."""
    return len(re.findall(r"@example\.org\s*</td>", html))


def browser_for(user, language: str = "en") -> Browser:
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()
    browser = Browser()
    browser.force_login(user)
    return browser


def assert_not_allowed(response, reason: str = "") -> None:
    html = response.content.decode()
    assert response.status_code == 403
    assert "Not allowed" in html and 'class="w-header' in html  # the admin's styled page
    assert "Back to the dashboard" in html
    if reason:
        assert f"<p data-refusal>{reason}</p>" in html


@pytest.mark.parametrize(("language", "sign_in"), [("en", "Sign in to Mailing service")])
def test_the_sign_in_page_names_the_service_not_wagtail(client, language, sign_in):
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert sign_in in html
    assert "Sign in to Wagtail" not in html
    assert 'aria-label="Wagtail"' not in html  # Wagtail's wordmark
    assert "- Mailing service</title>" in html
    assert "/static/img/favicon.svg" in html


def test_the_sign_in_page_in_russian(client, settings):
    settings.LANGUAGE_CODE = "ru"
    html = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "Вход в Сервис рассылок" in html
    assert "Войти в Wagtail" not in html and "Sign in to" not in html


def test_an_operators_brand_names_the_admin(client, settings):
    settings.WAGTAIL_SITE_NAME = "Bakery Post"

    html = client.get("/admin/login/").content.decode()

    assert "Sign in to Bakery Post" in html and "Mailing service" not in html


@pytest.mark.parametrize("role", ["Users", "Managers"])
def test_users_and_managers_see_no_page_search_nor_editor_guide(role):
    html = browser_for(UserFactory(role=role)).get("/admin/").content.decode()

    assert "Search all pages" not in html
    assert "editor guide" not in html.lower() and "Guide to editing pages" not in html
    assert '<h1 class="w-h1 w-mt-0">Mailing service</h1>' in html


def test_a_superuser_keeps_the_page_search_and_the_guide():
    html = browser_for(SuperuserFactory()).get("/admin/").content.decode()

    assert "Search all pages" in html and "Guide to editing pages" in html


def test_a_new_user_is_told_the_three_steps_to_a_first_mailing():
    user = UserFactory(role="Users")
    browser = browser_for(user)

    first = browser.get("/admin/").content.decode()
    ClientFactory(owner=user)
    ClientFactory(owner=user)
    second = browser.get("/admin/").content.decode()
    MailingFactory(owner=user, message=MessageFactory(owner=user))
    third = browser.get("/admin/").content.decode()

    assert "data-first-steps" in first and "data-chart" not in first
    assert first.count("mailings-first-steps__done") == 0
    assert 'href="/admin/mailings/clients/import/"' in first
    assert "Done: 2 clients." in second and second.count("mailings-first-steps__done") == 1
    assert "data-first-steps" not in third and "data-chart" in third


def test_a_russian_new_user_gets_the_steps_in_russian():
    user = UserFactory(role="Users")
    ClientFactory.create_batch(5, owner=user)

    html = browser_for(user, "ru").get("/admin/").content.decode()

    assert "Готово: 5 клиентов." in html
    assert "Сервис рассылок" in html


def test_a_managers_dashboard_has_no_first_steps_but_a_chart_with_axes_and_legend():
    MailingFactory()
    html = browser_for(UserFactory(role="Managers")).get("/admin/").content.decode()

    assert "data-first-steps" not in html
    assert "data-chart-peak" in html and "mailings-chart__swatch--sent" in html
    today = timezone.localdate()
    assert f"<span>{today:%B} {today.day}</span>" in html  # the last day, under the axis


def test_a_mailings_page_charts_its_runs():
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner)
    start = timezone.now() - timedelta(days=5)
    for day, (sent, failed) in enumerate([(3, 1), (4, 0), (2, 2)]):
        Attempt.objects.create(
            mailing=mailing,
            scheduled_for=start + timedelta(days=day),
            status="success",
            sent=sent,
            failed=failed,
            total=sent + failed,
        )

    html = browser_for(owner).get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content
    html = html.decode()

    assert "Messages sent and failed per run, last 3 runs" in html
    assert html.count("<rect ") == 6 and "<span data-chart-peak>4</span>" in html
    # Runs come before the message and the clients.
    assert html.index('id="mailing-attempts"') < html.index('id="mailing-message"')
    assert html.index('id="mailing-attempts"') < html.index('id="mailing-clients"')


def test_a_manager_refused_user_admin_gets_the_styled_page():
    browser = browser_for(UserFactory(role="Managers"))

    for path in ("/admin/users/", "/admin/groups/", "/admin/users/new/"):
        assert_not_allowed(browser.get(path), "You may not manage users or groups.")


def test_blocking_a_superuser_or_oneself_is_refused_before_the_confirmation():
    manager = UserFactory(role="Managers")
    browser = browser_for(manager)
    boss = SuperuserFactory()

    for target in (boss, manager):
        for verb in ("get", "post"):
            response = getattr(browser, verb)(f"/admin/accounts/users/{target.pk}/block/")
            assert_not_allowed(response)
    assert_not_allowed(
        browser.get(f"/admin/accounts/users/{boss.pk}/block/"), "A superuser cannot be blocked."
    )
    boss.refresh_from_db()
    assert boss.is_active


def test_a_plain_user_is_refused_the_users_list_with_the_styled_page():
    assert_not_allowed(
        browser_for(UserFactory(role="Users")).get("/admin/accounts/users/"),
        "Only managers may see the users.",
    )


@pytest.mark.parametrize(
    "path",
    [
        "/admin/mailings/mailings/delete/{pk}/",
        "/admin/mailings/mailings/edit/{pk}/",
        "/admin/mailings/mailings/send-now/{pk}/",
    ],
)
def test_a_manager_on_anothers_rows_is_not_allowed_a_user_gets_404(path):
    mailing = MailingFactory(start_at=timezone.now() - timedelta(minutes=1))
    services.mailing_save(mailing=mailing)
    url = path.format(pk=mailing.pk)

    assert_not_allowed(browser_for(UserFactory(role="Managers")).get(url))
    assert_not_allowed(browser_for(UserFactory(role="Managers")).post(url))
    assert browser_for(UserFactory(role="Users")).get(url).status_code == 404
    assert browser_for(UserFactory(role="Users")).post(url).status_code == 404
    assert Attempt.objects.filter(mailing=mailing).count() <= 1  # nothing was sent now
    mailing.refresh_from_db()
    assert mailing.pk


def test_a_blocked_owners_mailing_says_so_to_a_manager():
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner)
    owner.is_active = False
    owner.save()
    browser = browser_for(UserFactory(role="Managers"))

    listing = browser.get("/admin/mailings/mailings/").content.decode()
    inspect = browser.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()

    assert "Owner blocked" in listing
    assert "data-owner-blocked" in inspect


def test_wagtails_page_groups_say_they_are_for_the_site_and_roles_read_in_russian():
    from django.contrib.auth.models import Group

    names = set(Group.objects.values_list("name", flat=True))
    UserFactory(role="Users", email="shop@example.com")
    listing = browser_for(UserFactory(role="Managers"), "ru").get("/admin/accounts/users/")

    assert {"Users", "Managers", "Site editors", "Site moderators"} <= names
    assert not names & {"Editors", "Moderators"}
    html = listing.content.decode()
    assert "shop@example.com" in html and "Пользователи" in html and "Менеджеры" in html


def test_a_run_says_what_is_happening_and_its_mailing_is_not_finished_meanwhile(settings):
    settings.MAILINGS_MAX_TRIES = 4
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, periodicity="once")
    mailing.status = "finished"  # its only slot has come: nothing left on the schedule
    mailing.save()
    retry_at = timezone.now() + timedelta(hours=2)
    Attempt.objects.create(
        mailing=mailing,
        scheduled_for=timezone.now() - timedelta(minutes=5),
        status="in_progress",
        retries=2,
        available_at=retry_at,
        server_response="connection refused",
    )
    browser = browser_for(owner)

    runs = browser.get("/admin/mailings/attempts/").content.decode()
    listing = browser.get("/admin/mailings/mailings/").content.decode()
    page = browser.get(f"/admin/mailings/mailings/inspect/{mailing.pk}/").content.decode()

    at = timezone.localtime(retry_at)
    expected = "Waiting for the mail server: next try at"
    assert expected in runs and "2 tries left" in runs
    assert (f"{at:%-I}:{at:%M}" in runs) or (f"{at:%H:%M}" in runs)
    statuses = re.findall(r'class="w-status[^"]*"[^>]*>\s*([^<]*?)\s*<', listing)
    assert statuses == ["Running"]
    assert 'data-field="status">Running' in page


def test_a_fresh_run_is_at_0_percent_and_a_run_that_ended_well_says_so():
    from mailings import ledger

    mailing = MailingFactory()
    fresh = Attempt.objects.create(mailing=mailing, scheduled_for=timezone.now())
    retried = Attempt.objects.create(
        mailing=mailing,
        scheduled_for=timezone.now() - timedelta(days=1),
        retries=1,
        server_response="connection refused",
    )

    ledger.finish_or_wait(retried.pk)

    assert fresh.progress_percent == 0 and fresh.situation() == "Sending"
    retried.refresh_from_db()
    assert retried.status == "success" and retried.progress_percent == 100
    assert retried.server_response == "250 all messages accepted"
    assert retried.situation() == ""


def test_deleting_a_client_says_which_mailings_they_leave_and_keeps_past_deliveries():
    from mailings.models import Delivery

    owner = UserFactory(role="Users")
    anna = ClientFactory(owner=owner, email="anna@example.org")
    spring = MailingFactory(owner=owner, name="Spring offers", clients=[anna])
    MailingFactory(owner=owner, name="Weekly news", clients=[anna, ClientFactory(owner=owner)])
    run = Attempt.objects.create(mailing=spring, scheduled_for=timezone.now(), status="success")
    Delivery.objects.create(attempt=run, client=anna, email=anna.email, status="sent")
    browser = browser_for(owner)

    confirm = browser.get(f"/admin/mailings/clients/delete/{anna.pk}/").content.decode()
    browser.post(f"/admin/mailings/clients/delete/{anna.pk}/")

    assert "This client is in 2 mailings" in confirm
    assert "Spring offers" in confirm and "Weekly news" in confirm
    assert "referenced 0 times" not in confirm
    assert "The 1 message already sent or tried keeps its record" in confirm
    kept = Delivery.objects.get(attempt=run)
    assert (kept.client_id, kept.email, kept.status) == (None, "anna@example.org", "sent")
    run_page = browser.get(f"/admin/mailings/attempts/inspect/{run.pk}/").content.decode()
    assert "anna@example.org" in run_page


def test_exports_speak_the_readers_language_not_stored_codes():
    import csv
    import io

    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, name="Скидки", periodicity="daily")
    Attempt.objects.create(mailing=mailing, scheduled_for=timezone.now(), status="in_progress")
    browser = browser_for(owner, "ru")

    def rows(path):
        response = browser.get(path)
        text = b"".join(response.streaming_content).decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    mailings = rows("/admin/mailings/mailings/?export=csv")
    runs = rows("/admin/mailings/attempts/?export=csv")

    assert mailings[0][:5] == ["Название", "Тема", "Статус", "Периодичность", "Включена"]
    assert mailings[1][0] == "Скидки" and mailings[1][2:5] == ["Создана", "Ежедневно", "Да"]
    assert "Статус" in runs[0] and "Выполняется" in runs[1]
    assert not {"daily", "created", "in_progress", "True"} & set(mailings[1] + runs[1])


@pytest.mark.parametrize("garbage", ["abc", "-1", "0", "9" * 30, "²", "1.5"])
def test_a_mailings_clients_are_searched_and_paged_not_listed_in_full(garbage):
    from mailings.models import Client

    owner = UserFactory(role="Users")
    clients = Client.objects.bulk_create(
        Client(owner=owner, email=f"reader{n:03}@example.org", full_name=f"Reader {n:03}")
        for n in range(120)
    )
    mailing = MailingFactory(owner=owner, clients=clients)
    browser = browser_for(owner)
    url = f"/admin/mailings/mailings/inspect/{mailing.pk}/"

    first = browser.get(url).content.decode()
    last = browser.get(url, {"p": "3"}).content.decode()
    found = browser.get(url, {"q": "READER 11"}).content.decode()
    junk = browser.get(url, {"p": garbage, "q": garbage * 40})

    assert "120 clients" in first and addresses(first) == 50
    assert "Page 1 of 3" in first and "reader049@" in first and "reader050@" not in first
    assert addresses(last) == 20 and "reader119@" in last
    assert addresses(found) == 10 and "Page 1 of" not in found
    assert junk.status_code == 200


def test_a_runs_deliveries_are_paged_filtered_searched_and_exported():
    import csv
    import io

    from mailings.models import Delivery

    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner)
    run = Attempt.objects.create(mailing=mailing, scheduled_for=timezone.now(), status="failure")
    Delivery.objects.bulk_create(
        Delivery(
            attempt=run,
            email=f"r{n:03}@example.org" if n else "=cmd@example.org",
            status="failed" if n % 10 == 0 else "sent",
            response="550 =HYPERLINK(x)" if n % 10 == 0 else "250 ok",
        )
        for n in range(250)
    )
    browser = browser_for(owner)
    url = f"/admin/mailings/attempts/inspect/{run.pk}/"

    first = browser.get(url).content.decode()
    failed = browser.get(url, {"status": "failed"}).content.decode()
    searched = browser.get(url, {"q": "r24"}).content.decode()
    odd = browser.get(url, {"status": "x' OR 1=1", "p": "-3"})
    export = browser.get(url, {"status": "failed", "export": "csv"})
    stranger = browser_for(UserFactory(role="Users")).get(url, {"export": "csv"})

    assert "250 deliveries" in first and addresses(first) == 50  # 50 to a page (issue 25)
    assert "Page 1 of 5" in first
    # Failed first: the 25 failed ones open the first page.
    assert first.index("r010@example.org") < first.index("r001@example.org")
    assert addresses(failed) == 25 and "r001@example.org" not in failed
    assert addresses(searched) == 10  # r240 to r249
    assert odd.status_code == 200 and addresses(odd.content.decode()) == 50
    text = b"".join(export.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert text.startswith("\ufeff") and rows[0][0] == "E-mail address"
    assert len(rows) == 26 and {row[1] for row in rows[1:]} == {"Failed"}
    assert rows[1][0] == "'=cmd@example.org" and rows[1][3] == "550 =HYPERLINK(x)"
    assert stranger.status_code == 404


def test_an_import_that_overwrites_clients_asks_first_and_the_file_waits_for_its_owner(
    settings, tmp_path, through_worker
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mailings.models import Client

    settings.VAR_DIR = tmp_path
    owner = UserFactory(role="Users")
    ClientFactory(owner=owner, email="ann@example.ru", full_name="Анна")
    browser = browser_for(owner)
    content = "E-mail;ФИО\nann@example.ru;Анна Ёлкина\nnew@example.ru;Новый\n".encode("cp1251")

    asked = through_worker(
        browser,
        "/admin/mailings/clients/import/",
        {"file": SimpleUploadedFile("excel.csv", content, content_type="text/csv")},
    ).content.decode()
    apply = re.search(r'action="(/admin/mailings/jobs/apply/\d+/)"', asked).group(1)
    names_before = sorted(Client.objects.values_list("full_name", flat=True))
    stranger = browser_for(UserFactory(role="Users")).post(apply)
    garbage = browser.post("/admin/mailings/jobs/apply/..%2F..%2Fetc%2Fpasswd/")
    applied = through_worker(browser, apply)
    again = browser.post(apply, follow=True)

    assert "This file changes 1 client already in your list" in asked
    assert "Анна Ёлкина" in asked and names_before == ["Анна"]
    assert stranger.status_code == 404 and garbage.status_code == 404
    assert applied.status_code == 200 and "1 client created" in applied.content.decode()
    assert sorted(Client.objects.values_list("full_name", flat=True)) == ["Анна Ёлкина", "Новый"]
    assert "no longer waiting" in again.content.decode()
    assert list((tmp_path / "jobs").iterdir()) == []


def test_an_import_that_only_adds_clients_goes_in_at_once(through_worker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from mailings.models import Client

    owner = UserFactory(role="Users")
    ClientFactory(owner=owner, email="ann@example.org", full_name="Ann")
    content = b"email,full_name\nann@example.org,Ann\nbob@example.org,Bob\n"

    response = through_worker(
        browser_for(owner),
        "/admin/mailings/clients/import/",
        {"file": SimpleUploadedFile("c.csv", content, content_type="text/csv")},
    ).content.decode()

    assert "data-import-changes" not in response and "1 client created" in response
    assert Client.objects.filter(owner=owner).count() == 2


def test_russian_labels_agree_with_their_nouns():
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, name="Скидки")
    for day in range(5):
        Attempt.objects.create(mailing=mailing, scheduled_for=timezone.now() - timedelta(days=day))
    browser = browser_for(owner, "ru")

    add = browser.get("/admin/mailings/mailings/add/").content.decode()
    refused = browser.post("/admin/mailings/mailings/add/", {"name": ""}).content.decode()
    delete = browser.get(f"/admin/mailings/mailings/delete/{mailing.pk}/").content.decode()
    runs = browser.get("/admin/mailings/attempts/").content.decode()
    client_add = browser.get("/admin/mailings/clients/add/").content.decode()

    assert "Добавить рассылку" in add and "Новый" not in add
    assert "Ничего не сохранено: исправьте ошибки ниже." in refused
    assert "Не удалось создать" not in refused
    assert "Удалить «Скидки» насовсем?" in delete
    assert "5 запусков" in runs
    assert "Добавить клиента" in client_add and "Добавить клиент<" not in client_add


def test_the_home_pages_counters_read_as_captions_in_russian(client, home):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "Всего рассылок" in html and "Активных сейчас" in html
    assert "Охвачено клиентов" in html


def test_a_search_counts_its_matches_in_correct_russian():
    owner = UserFactory(role="Users")
    ClientFactory(owner=owner, full_name="Анна Петрова")
    ClientFactory(owner=owner, full_name="Анна Смирнова")

    html = browser_for(owner, "ru").get("/admin/mailings/clients/", {"q": "Анна"}).content
    html = html.decode()

    assert "Найдено 2 совпадения" in html and "2 совпадений" not in html


def test_future_moments_are_dates_not_just_now():
    owner = UserFactory(role="Users")
    mailing = MailingFactory(owner=owner, start_at=timezone.now() + timedelta(days=3))
    services.mailing_save(mailing=mailing)
    mailing.refresh_from_db()

    html = browser_for(owner).get("/admin/mailings/mailings/").content.decode()

    assert "Just now" not in html and "just now" not in html
    local = timezone.localtime(mailing.next_run_at, mailing.zone)
    assert f'datetime="{local.isoformat()}"' in html


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_blocking_through_the_page_works_outside_a_test_transaction():
    """The suite's other tests run inside a transaction; a request does not (the browser
    journey found a block that only worked inside one)."""
    manager = UserFactory(role="Managers")
    shop = UserFactory(role="Users", email="shop@example.com")

    response = browser_for(manager).post(f"/admin/accounts/users/{shop.pk}/block/")

    shop.refresh_from_db()
    assert response.status_code == 302 and shop.is_blocked and not shop.is_active
