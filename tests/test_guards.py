"""The circuit breaker and the rate limit, on the configured cache, with the clock under the
test's control (no waiting)."""

import pytest

from mailings import guards
from mailings.guards import CircuitBreaker, RateLimiter


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(guards.time, "time", fake.time)
    monkeypatch.setattr(guards.time, "sleep", fake.sleep)
    return fake


def test_the_breaker_opens_after_the_threshold_and_lets_one_probe_through(clock):
    breaker = CircuitBreaker("mx:25", threshold=3, cooldown=60)

    for _ in range(2):
        breaker.failure()
        assert not breaker.allow().open
    breaker.failure()
    state = breaker.allow()
    assert state.open and state.retry_at == clock.now + 60

    clock.now += 61
    assert not breaker.allow().open  # the probe
    assert breaker.allow().open  # everyone else waits for it
    breaker.success()
    assert not breaker.allow().open
    assert not CircuitBreaker("mx:25", threshold=3, cooldown=60).allow().open


def test_breakers_of_two_servers_are_apart(clock):
    first = CircuitBreaker("a:25", threshold=1, cooldown=60)
    first.failure()

    assert first.allow().open
    assert not CircuitBreaker("b:25", threshold=1, cooldown=60).allow().open


def test_the_rate_limit_lets_the_limit_through_then_waits_for_the_next_second(clock):
    limiter = RateLimiter(5)
    clock.now = 2_000_000.25

    for _ in range(5):
        limiter.wait()
    assert clock.slept == []
    limiter.wait()

    assert clock.slept == [pytest.approx(0.75)]


def test_a_rate_under_one_a_second_counts_longer_windows(clock):
    limiter = RateLimiter(0.5)  # one message every two seconds
    clock.now = 2_000_000.0

    limiter.wait()
    limiter.wait()

    assert (limiter.window, limiter.limit) == (2.0, 1)
    assert clock.slept == [pytest.approx(2.0)]


def test_no_rate_limit_never_waits(clock):
    limiter = RateLimiter(0)
    for _ in range(1000):
        limiter.wait()
    assert clock.slept == []
