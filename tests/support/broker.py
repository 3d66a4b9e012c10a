"""The broker gone away, for tests: point Celery at a port where nothing listens, and back."""

from __future__ import annotations

from kombu import pools as kombu_pools

from site_config.celery import app

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def reset_connection_pools() -> None:
    """Publishing reuses pooled connections (Celery's and kombu's, per broker URL); after
    switching brokers they must be rebuilt."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    kombu_pools.reset()


def broker_down(monkeypatch):
    """Generator behind the ``broker_down`` fixture (tests/conftest.py)."""
    # Celery prefers a CELERY_BROKER_URL in the environment to its configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    saved = {
        "broker_url": app.conf.broker_url,
        "broker_transport_options": app.conf.broker_transport_options,
    }
    app.conf.update(
        broker_url=UNREACHABLE_BROKER, broker_transport_options={"socket_connect_timeout": 1}
    )
    reset_connection_pools()
    yield
    app.conf.update(saved)
    reset_connection_pools()
