import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from wagtail.images.models import Image
from wagtail.models import Page, Revision

from accounts.demo import DEMO_USERS
from accounts.models import User
from blog.models import BlogIndexPage, BlogPage
from mailings.models import Client, Mailing, Message


def counts():
    return {
        "users": User.objects.count(),
        "pages": Page.objects.count(),
        "posts": BlogPage.objects.live().count(),
        "images": Image.objects.count(),
        "revisions": Revision.objects.count(),
        "memberships": User.groups.through.objects.count(),
        "clients": Client.objects.count(),
        "messages": Message.objects.count(),
        "mailings": Mailing.objects.count(),
        "mailing_clients": Mailing.clients.through.objects.count(),
    }


@pytest.mark.django_db
def test_seed_demo_twice_creates_nothing_twice(client):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")

    assert counts() == first
    assert first["users"] == len(DEMO_USERS)
    assert first["posts"] >= 3
    assert BlogIndexPage.objects.get().url == "/blog/"
    assert all(post.image_id for post in BlogPage.objects.all())
    assert first["mailings"] >= 2
    for mailing in Mailing.objects.all():
        assert mailing.clients.exclude(owner=mailing.owner).count() == 0
        assert mailing.message.owner_id == mailing.owner_id


@pytest.mark.django_db
def test_seed_demo_roles_and_logins():
    call_command("seed_demo")

    for demo in DEMO_USERS:
        user = User.objects.get(email=demo.email)
        assert user.check_password(demo.password)
        if demo.role == "superuser":
            assert user.is_superuser
        else:
            assert list(user.groups.values_list("name", flat=True)) == [demo.role]


@pytest.mark.django_db
def test_seeded_site_serves_blog_and_posts(client):
    call_command("seed_demo")

    assert client.get("/blog/").status_code == 200
    for post in BlogPage.objects.all():
        response = client.get(post.url)
        assert response.status_code == 200
        assert post.title in response.content.decode()


@pytest.mark.django_db
def test_seed_demo_refuses_production_settings():
    with override_settings(DEMO_DATA_ALLOWED=False), pytest.raises(CommandError, match="refuses"):
        call_command("seed_demo")

    assert not User.objects.exists()
