"""The blog's periodic work: moving the views counted in Redis into the database."""

from __future__ import annotations

from celery import shared_task

from blog import view_counter
from blog.models import BlogPage


@shared_task(name="blog.tasks.flush_views", ignore_result=True)
def flush_views() -> int:
    return view_counter.flush(BlogPage)
