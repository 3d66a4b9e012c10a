import pytest

from tests.factories import SuperuserFactory, UserFactory


@pytest.fixture
def user(db):
    return UserFactory(role="Users")


@pytest.fixture
def superuser(db):
    return SuperuserFactory()


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; Django's mail settings point at it."""
    from tests.support.smtp import TestSMTPServer

    with TestSMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server
