"""A task makes a real round trip through the configured broker (the filesystem transport on
the embedded default, Redis with REDIS_URL) to a real worker process and back."""

import uuid

import pytest
from django.core.cache import cache

from site_config.celery import HEARTBEAT_CACHE_KEY, app, heartbeat, ping
from tests.support.processes import celery_worker, wait_until


@pytest.fixture
def worker_queue():
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker = celery_worker(queue=queue)
    try:
        yield queue, worker
    finally:
        worker.stop()


@pytest.mark.services
def test_a_task_round_trips_through_the_broker_to_a_worker(worker_queue):
    queue, worker = worker_queue
    token = f"hello-{uuid.uuid4().hex}"

    result = ping.apply_async(args=[token], queue=queue)

    try:
        assert result.get(timeout=90) == token
    finally:
        print(worker.output())
    assert "ready." in worker.output()
    assert app.conf.broker_url.split(":")[0] in worker.output()


@pytest.mark.services
def test_the_heartbeat_task_runs_in_a_worker_and_marks_the_cache(worker_queue):
    queue, worker = worker_queue
    cache.delete(HEARTBEAT_CACHE_KEY)

    heartbeat.apply_async(queue=queue)

    assert wait_until(lambda: cache.get(HEARTBEAT_CACHE_KEY) is not None, timeout=90), (
        worker.output()
    )
