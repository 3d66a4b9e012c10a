"""The Celery app. Configuration comes from Django settings (``CELERY_*``); beat's schedule
is defined here, in code, so every deployment runs the same periodic tasks."""

import os
import time

from celery import Celery

# A worker or beat started by hand is a production process unless told otherwise (make run
# sets the development settings): it refuses to start without a SECRET_KEY.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings.production")

app = Celery("site_config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_CACHE_KEY = "celery:heartbeat"


def _beat_schedule() -> dict:
    from django.conf import settings

    return {
        "heartbeat": {"task": "site_config.heartbeat", "schedule": 30.0},
        "dispatch-due-mailings": {
            "task": "mailings.tasks.dispatch_due",
            "schedule": float(settings.MAILINGS_DISPATCH_INTERVAL),
            # A tick that waited longer than an interval is superseded by the next one.
            "options": {"expires": float(settings.MAILINGS_DISPATCH_INTERVAL)},
        },
        # Bounces mailed back (a no-op without MAILINGS_BOUNCE_MAILBOX).
        "process-bounces": {
            "task": "mailings.tasks.process_bounces",
            "schedule": float(settings.MAILINGS_BOUNCE_INTERVAL),
            "options": {"expires": float(settings.MAILINGS_BOUNCE_INTERVAL)},
        },
        # The home page's counters, computed here rather than in a visitor's request.
        "refresh-home-counters": {
            "task": "home.tasks.refresh_counters",
            "schedule": float(settings.HOME_COUNTERS_TTL),
            "options": {"expires": float(settings.HOME_COUNTERS_TTL)},
        },
        # Imports and exports whose worker stopped, queued again; files past their day removed.
        "sweep-jobs": {
            "task": "mailings.tasks.sweep_jobs",
            "schedule": 60.0,
            "options": {"expires": 60.0},
        },
        # Views counted in Redis, into the database (blog/view_counter.py); a no-op
        # without Redis. Two at once move each count once.
        "flush-blog-views": {
            "task": "blog.tasks.flush_views",
            "schedule": 10.0,
            "options": {"expires": 10.0},
        },
    }


@app.on_after_configure.connect
def _set_beat_schedule(sender, **kwargs) -> None:
    sender.conf.beat_schedule = _beat_schedule()


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
