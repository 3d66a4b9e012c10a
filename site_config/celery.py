"""The Celery app. Configuration comes from Django settings (``CELERY_*``); beat's schedule
is defined here, in code, so every deployment runs the same periodic tasks."""

import os
import time

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings.dev")

app = Celery("site_config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "celery:heartbeat"

app.conf.beat_schedule = {
    "heartbeat": {"task": "site_config.heartbeat", "schedule": 30.0},
}


@app.task(name="site_config.heartbeat", ignore_result=True)
def heartbeat() -> float:
    """Record that beat and a worker are alive; /healthz reports the age of this mark."""
    from django.core.cache import cache

    now = time.time()
    cache.set(HEARTBEAT_CACHE_KEY, now, timeout=None)
    return now


@app.task(name="site_config.ping", ignore_result=False)
def ping(value: str = "pong") -> str:
    """Echo a value back through the result backend: proof of a full broker round trip."""
    return value
