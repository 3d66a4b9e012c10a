"""Throttling of sign-in and sign-up against guessing, in the cache shared by all web
processes. Failures are counted per account and per client address; past the limit, the
action is refused until the cool-off has passed (it lifts by itself)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"accounts:throttle:{kind}:{digest}"


class Throttle:
    def __init__(self, scope: str, *, limit: int, cooloff: int) -> None:
        self.scope, self.limit, self.cooloff = scope, limit, cooloff

    def keys(self, **identities: str) -> list[str]:
        return [_key(f"{self.scope}:{name}", value) for name, value in identities.items() if value]

    def blocked(self, **identities: str) -> bool:
        counts = cache.get_many(self.keys(**identities))
        return any(count >= self.limit for count in counts.values())

    def hit(self, **identities: str) -> None:
        for key in self.keys(**identities):
            if cache.add(key, 1, timeout=self.cooloff):
                continue
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=self.cooloff)
            # Some backends (the file cache) reset the expiry on incr: the cool-off runs
            # from the last failure either way.
            cache.touch(key, self.cooloff)

    def clear(self, **identities: str) -> None:
        cache.delete_many(self.keys(**identities))


def login_throttle() -> Throttle:
    return Throttle(
        "login", limit=settings.LOGIN_FAILURE_LIMIT, cooloff=settings.LOGIN_COOLOFF_SECONDS
    )


def signup_throttle() -> Throttle:
    return Throttle("signup", limit=settings.SIGNUP_LIMIT_PER_HOUR, cooloff=3600)
