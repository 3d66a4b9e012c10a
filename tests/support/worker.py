"""The Celery worker, in the test's own process: a task published while this is on runs at
once, through Celery's own ``apply``, instead of waiting in the broker for a worker process.
For tests of what a task does; tests/test_workers.py runs real worker processes."""

from __future__ import annotations

from contextlib import contextmanager

from site_config.celery import app


@contextmanager
def worker_in_process():
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved
