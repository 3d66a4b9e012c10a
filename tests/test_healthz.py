"""/healthz answers for load balancers: 200 when database, cache and broker answer, else 503
with the failing part named, never where it is (host, port, folder) nor what it said."""

from unittest.mock import ANY

import pytest
from django.test import override_settings

from site_config.celery import app

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


def says_nothing_of_where_or_why(response) -> None:
    text = response.content.decode()
    for leak in ("127.0.0.1", ":1", "Error", "refused", "Traceback", "redis"):
        assert leak not in text, f"{leak!r} in {text}"


@pytest.mark.django_db
def test_healthz_is_ok_when_every_service_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "cache": True,
        "broker": True,
    }
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_names_an_unreachable_cache(client):
    unreachable = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["cache"] == {"ok": False, "error": "cache unreachable", "ms": ANY}
    assert body["checks"]["database"]["ok"] is True
    says_nothing_of_where_or_why(response)


@pytest.fixture
def broker_at(monkeypatch):
    """Point the Celery app at another broker for one test, then restore it. Celery prefers
    a CELERY_BROKER_URL in the environment to its configuration: that goes for the test."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    saved = {
        "broker_url": app.conf.broker_url,
        "broker_transport_options": app.conf.broker_transport_options,
    }

    def point(url, options):
        app.conf.update(broker_url=url, broker_transport_options=options)

    yield point
    app.conf.update(saved)


@pytest.mark.django_db
def test_healthz_names_an_unreachable_broker(client, broker_at):
    broker_at(UNREACHABLE_REDIS, {"socket_connect_timeout": 1})

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] == {"ok": False, "error": "broker unreachable", "ms": ANY}
    assert body["checks"]["cache"]["ok"] is True
    says_nothing_of_where_or_why(response)


@pytest.mark.django_db
def test_healthz_names_a_broker_folder_that_is_gone(client, broker_at, tmp_path):
    missing = tmp_path / "no-such-folder"
    broker_at("filesystem://localhost/", {"data_folder_in": str(missing)})

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["error"] == "broker unreachable"
    assert "no-such-folder" not in response.content.decode()
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db
def test_healthz_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
