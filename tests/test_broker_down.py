"""With the broker down, saving a mailing still works; the run goes out once a tick runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from mailings import dispatching
from mailings.models import Attempt, Mailing
from tests.factories import ClientFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_saving_a_mailing_with_redis_down_succeeds(
    client, broker_down, django_capture_on_commit_callbacks, caplog, settings
):
    # Redis is the cache too: both are unreachable, as when the Redis server is stopped.
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    owner = UserFactory(role="Users")
    client.force_login(owner)
    message, reader = MessageFactory(owner=owner), ClientFactory(owner=owner)
    now = timezone.localtime()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/mailings/mailings/add/",
            {
                "name": "Spring offers",
                "message": message.pk,
                "clients": [reader.pk],
                "start_at": (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"),
                "end_at": (now + timedelta(days=1)).strftime("%Y-%m-%d %H:%M"),
                "periodicity": "once",
                "is_enabled": "on",
            },
        )

    assert response.status_code == 302
    assert "could not enqueue mailings.tasks.dispatch_due" in caplog.text
    mailing = Mailing.objects.get(owner=owner)
    assert mailing.next_run_at <= timezone.now()

    # The broker is back: the next tick finds the mailing in the database.
    ids = dispatching.tick_until_idle()
    assert Attempt.objects.filter(pk__in=ids, mailing=mailing).count() == 1
