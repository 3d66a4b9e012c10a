"""The custom user logs in by e-mail and works with Wagtail's admin and user management."""

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts.models import User
from tests.factories import UserFactory


@pytest.mark.django_db
def test_users_are_created_by_email_without_a_username():
    user = User.objects.create_user("Someone@Example.COM", "pw-long-enough-1")

    assert user.email == "Someone@example.com"  # the domain is normalised
    assert not hasattr(user, "username")
    assert user.check_password("pw-long-enough-1")
    assert not user.is_superuser


@pytest.mark.django_db
def test_an_address_differing_only_in_case_is_taken():
    User.objects.create_user("ann@example.com", "pw")

    with pytest.raises(ValidationError):
        User.objects.create_user("ANN@example.com", "pw")


@pytest.mark.django_db
def test_login_ignores_the_case_of_the_address(rf):
    UserFactory(email="carol@example.com")

    assert authenticate(rf.get("/"), username="CAROL@example.com", password="correct-horse-battery")


@pytest.mark.django_db
def test_both_roles_exist_and_may_open_the_admin():
    for name in ("Users", "Managers"):
        group = Group.objects.get(name=name)
        assert group.permissions.filter(codename="access_admin").exists()


@pytest.mark.django_db
def test_superuser_signs_in_to_the_admin_by_email(client, superuser):
    response = client.post(
        "/admin/login/",
        {"username": superuser.email.upper(), "password": "correct-horse-battery"},
    )

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_wrong_password_is_refused(client, superuser):
    response = client.post("/admin/login/", {"username": superuser.email, "password": "nope"})

    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_wagtail_user_management_creates_and_edits_users(client, superuser):
    client.force_login(superuser)
    users_group = Group.objects.get(name="Users")

    response = client.post(
        "/admin/users/new/",
        {
            "email": "dave@example.com",
            "first_name": "Dave",
            "last_name": "Davies",
            "password1": "a-Strong-pass-123",
            "password2": "a-Strong-pass-123",
            "is_superuser": "",
            "groups": [users_group.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dave = User.objects.get(email="dave@example.com")
    assert list(dave.groups.all()) == [users_group]
    assert dave.check_password("a-Strong-pass-123")

    listing = client.get("/admin/users/")
    assert "dave@example.com" in listing.content.decode()

    response = client.post(
        f"/admin/users/edit/{dave.pk}/",
        {
            "email": "dave@example.com",
            "first_name": "David",
            "last_name": "Davies",
            "is_active": "on",
            "groups": [users_group.pk],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dave.refresh_from_db()
    assert dave.first_name == "David"
