import pytest

from tests.factories import SuperuserFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(role="Users")


@pytest.fixture
def superuser(db):
    return SuperuserFactory()
