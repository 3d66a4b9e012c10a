"""Journey 5: a user whose language is Russian gets the mailings admin in Russian."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from wagtail.users.models import UserProfile

from e2e.helpers import log_in, open_menu_item
from tests.factories import MailingFactory, MessageFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_russian_speaking_user_gets_the_mailings_admin_in_russian(page):
    user = UserFactory(role="Users", email="olga@example.ru")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "ru"
    profile.save()
    MailingFactory(
        owner=user,
        name="Новости магазина, каждый день",
        message=MessageFactory(owner=user, subject="Новости магазина"),
    )

    log_in(page, "olga@example.ru")  # the sign-in page follows the browser: English

    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("[data-mailings-panel]")).to_contain_text("Мои рассылки")
    open_menu_item(page, "Рассылки", "Рассылки")

    expect(page).to_have_url(re.compile(r"/admin/mailings/mailings/$"))
    expect(page.locator("main").get_by_role("heading", level=1)).to_have_text("Рассылки")
    expect(page.get_by_role("link", name="Добавить рассылку")).to_be_visible()
    headings = page.locator("table.listing thead th")
    for label in ("Статус", "Периодичность", "С – по", "Запуски", "Отправлено / ошибки"):
        expect(headings.filter(has_text=label)).to_have_count(1)
    row = page.locator("table.listing tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Новости магазина, каждый день")
    expect(row).to_contain_text("Ежедневно")
    expect(row.locator(".w-status")).to_have_text("Создана")
