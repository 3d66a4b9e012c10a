"""Guards shared by all workers through the cache: a circuit breaker per mail server and a
rate limit in messages per second. With Redis they hold across machines; with the embedded
file cache, across the processes of one machine (and only approximately: its counters are
not atomic)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class BreakerState:
    open: bool
    retry_at: float | None = None


class CircuitBreaker:
    """Closed: connect freely. After ``threshold`` failures in a row it opens for
    ``cooldown`` seconds; then one worker at a time may probe, and a success closes it."""

    def __init__(self, key: str, *, threshold: int, cooldown: float) -> None:
        self.key = f"mailings:breaker:{key}"
        self.threshold = threshold
        self.cooldown = cooldown

    def allow(self) -> BreakerState:
        open_until = cache.get(f"{self.key}:open_until")
        now = time.time()
        if open_until is None:
            return BreakerState(open=False)
        if now < open_until:
            return BreakerState(open=True, retry_at=open_until)
        # Half-open: the first to take the probe lock tries; the others wait a little.
        if cache.add(f"{self.key}:probe", 1, timeout=max(int(self.cooldown), 1)):
            return BreakerState(open=False)
        return BreakerState(open=True, retry_at=now + self.cooldown)

    def success(self) -> None:
        cache.delete_many([f"{self.key}:failures", f"{self.key}:open_until", f"{self.key}:probe"])

    def failure(self) -> None:
        failures_key = f"{self.key}:failures"
        cache.add(failures_key, 0, timeout=int(self.cooldown * 10))
        try:
            failures = cache.incr(failures_key)
            cache.touch(failures_key, int(self.cooldown * 10))  # the file cache resets it
        except ValueError:  # expired between add and incr
            cache.set(failures_key, 1, timeout=int(self.cooldown * 10))
            failures = 1
        if failures >= self.threshold:
            cache.set(f"{self.key}:open_until", time.time() + self.cooldown, timeout=None)
            cache.delete(f"{self.key}:probe")


class RateLimiter:
    """At most ``per_second`` messages per second across all workers, counted in the cache
    in fixed windows (one second, or longer for rates under one a second)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self.window = 1.0 if per_second >= 1 else 1.0 / per_second if per_second > 0 else 1.0
        self.limit = max(int(per_second * self.window), 1)

    def wait(self) -> None:
        if self.per_second <= 0:
            return
        while True:
            now = time.time()
            window = int(now // self.window)
            key = f"mailings:rate:{self.window}:{window}"
            cache.add(key, 0, timeout=int(self.window) + 5)
            try:
                used = cache.incr(key)
            except ValueError:
                continue
            if used <= self.limit:
                return
            time.sleep(max((window + 1) * self.window - now, 0.001))
