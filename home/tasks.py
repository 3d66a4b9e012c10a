"""The home page's periodic work: its counters, computed off the request."""

from __future__ import annotations

from celery import shared_task

from home import counters


@shared_task(name="home.tasks.refresh_counters", ignore_result=True)
def refresh_counters() -> bool:
    return counters.refresh() is not None
