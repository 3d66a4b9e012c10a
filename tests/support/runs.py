"""Driving a run in the test's own process, with time made to pass instead of waited for."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from mailings import sending, smtp
from mailings.guards import CircuitBreaker
from mailings.ledger import Step
from mailings.models import Attempt, Delivery


def time_passes(attempt) -> None:
    """Every wait of the run is over (retry backoff, leases): all of it may go again now."""
    attempt_id = getattr(attempt, "pk", attempt)
    Delivery.objects.filter(attempt_id=attempt_id, status=Delivery.Status.PENDING).update(
        available_at=None
    )
    Attempt.objects.filter(pk=attempt_id).update(available_at=timezone.now())


def breaker_cools_down() -> None:
    """The circuit breaker's cool-down is over, as if its time had passed."""
    config = smtp.ServerConfig.from_settings(settings)
    key = CircuitBreaker(config.key, threshold=1, cooldown=1).key + ":open_until"
    if cache.get(key) is not None:
        cache.set(key, time.time() - 1, timeout=None)


def run_until_done(attempt_id: int, *, rounds: int = 50) -> Attempt:
    """Work a run to its end in this process; whenever it waits, its wait is over at once."""
    sending.prepare(attempt_id)
    for _ in range(rounds):
        step = sending.work(attempt_id, budget=60)
        if step == Step.DONE:
            return Attempt.objects.get(pk=attempt_id)
        if step == Step.LATER:
            time_passes(attempt_id)
    raise AssertionError(f"attempt {attempt_id} not done after {rounds} rounds")
