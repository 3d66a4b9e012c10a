import pytest

from blog.models import BlogIndexPage
from home.models import HomePage
from tests.factories import SuperuserFactory, UserFactory
from tests.support import broker
from tests.support.cache import clear_cache
from tests.support.faulty_smtp import FaultySMTPServer
from tests.support.smtp import TestSMTPServer, point_django_mail_at
from tests.support.worker import worker_in_process


@pytest.fixture(autouse=True)
def empty_cache():
    """Every test starts and ends with an empty cache (throttles, breaker, public pages)."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def user(db):
    return UserFactory(role="Users")


@pytest.fixture
def superuser(db):
    return SuperuserFactory()


@pytest.fixture
def owner(client, db):
    """A user of the Users group, signed in with the test client."""
    signed_in = UserFactory(role="Users", email="owner@example.com")
    client.force_login(signed_in)
    return signed_in


@pytest.fixture
def home(db):
    return HomePage.objects.get()


@pytest.fixture
def blog_index(home):
    """The published blog index under the home page, with no posts yet."""
    index = home.add_child(instance=BlogIndexPage(title="Blog", slug="blog"))
    index.save_revision().publish()
    return index


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on loopback; Django's mail settings point at it."""
    with TestSMTPServer() as server:
        point_django_mail_at(settings, server.port)
        yield server


@pytest.fixture(params=["pipelining", "in-turns"])
def faulty_smtp(settings, request):
    """A switchable misbehaving SMTP server; the engine's settings point at it, with short
    timeouts and retry delays so a test needs seconds, not minutes. Every test runs twice:
    with a server that offers PIPELINING (the engine batches MAIL, RCPT and DATA) and with
    one that does not (one command at a time)."""
    with FaultySMTPServer() as server:
        server.pipelining = request.param == "pipelining"
        server.slow_seconds = 3
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 1
        settings.MAILINGS_RETRY_BASE_DELAY = 1
        settings.MAILINGS_RETRY_MAX_DELAY = 1
        settings.MAILINGS_BREAKER_THRESHOLD = 1000
        settings.MAILINGS_RATE_LIMIT = 0
        yield server


@pytest.fixture
def broker_down(monkeypatch):
    """The broker is unreachable for the test (tests/support/broker.py)."""
    yield from broker.broker_down(monkeypatch)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Make a request as the service runs it: its transaction commits, then the worker sends
    the mail the request queued."""

    def request(call, *args, **kwargs):
        with worker_in_process(), django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return request


@pytest.fixture
def through_worker(committed):
    """POST a form whose work a worker does (an import), let the worker do it once the
    request's transaction commits, then open the page the form redirected to."""

    def request(browser, url, data=None):
        response = committed(browser.post, url, data or {})
        if response.status_code != 302:
            return response
        return browser.get(response["Location"])

    return request
