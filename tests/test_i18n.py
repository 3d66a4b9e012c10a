"""The Russian interface: a user who chose Russian, or a site whose default is Russian, gets
the mailings admin in Russian. The compiled catalogue is committed and complete."""

import gettext
import re

import pytest
from django.conf import settings
from wagtail.users.models import UserProfile

from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

CATALOGUE = settings.BASE_DIR / "locale" / "ru" / "LC_MESSAGES"


@pytest.fixture
def russian_user(client):
    user = UserFactory(role="Users")
    profile = UserProfile.get_for_user(user)
    profile.preferred_language = "ru"
    profile.save()
    client.force_login(user)
    return user


def test_a_user_who_chose_russian_gets_the_mailings_admin_in_russian(client, russian_user):
    ClientFactory(owner=russian_user)

    listing = client.get("/admin/mailings/clients/").content.decode()
    mailing_form = client.get("/admin/mailings/mailings/add/").content.decode()
    import_page = client.get("/admin/mailings/clients/import/").content.decode()

    assert "Клиенты" in listing
    assert "Импорт из CSV" in listing
    assert "Периодичность" in mailing_form
    assert "Сообщение" in mailing_form
    assert "Файл CSV" in import_page


def test_language_code_ru_makes_russian_the_default(client, settings):
    settings.LANGUAGE_CODE = "ru"
    user = UserFactory(role="Users")
    client.force_login(user)

    html = client.get("/admin/mailings/messages/add/").content.decode()

    assert "Тема" in html
    assert "Содержимое" in html and "Простой текст" in html


def test_validation_messages_are_translated(client, russian_user):
    response = client.post("/admin/mailings/messages/add/", {"subject": "Hi {x}", "body": "b"})

    assert "Неизвестная подстановка {x}" in response.content.decode()


def test_the_compiled_catalogue_translates_every_entry_of_the_source():
    source = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    with (CATALOGUE / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)

    singular_ids = re.findall(r'^(?:msgctxt "(.+)"\n)?msgid "(.+)"\nmsgstr "', source, re.M)
    assert len(singular_ids) > 100

    def translated(context: str, msgid: str) -> str:
        text = msgid.encode().decode("unicode_escape")
        return compiled.pgettext(context, text) if context else compiled.gettext(text)

    untranslated = [
        msgid
        for context, msgid in singular_ids
        if translated(context, msgid) == msgid and not msgid.startswith("%(")
    ]
    assert untranslated == []
    assert 'msgstr ""\n\n' not in source.split("\n\n", 1)[1]


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 клиент"), (3, "3 клиента"), (6, "6 клиентов"), (11, "11 клиентов"), (21, "21 клиент")],
)
def test_the_listing_counts_in_russian_plural_forms(client, count, expected):
    # Issue 16: Wagtail's own label put the number beside the plural name ("6 клиенты").
    owner = UserFactory(role="Users")
    profile = UserProfile.get_for_user(owner)
    profile.preferred_language = "ru"
    profile.save()
    ClientFactory.create_batch(count, owner=owner)
    client.force_login(owner)

    html = client.get("/admin/mailings/clients/").content.decode()

    assert re.search(re.escape(expected) + r"(?!\w)", html), expected
    assert f"{count} клиенты" not in html
