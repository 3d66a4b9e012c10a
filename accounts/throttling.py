"""Throttling of sign-in, sign-up and password reset against guessing and mail bombing, in
the cache shared by all web processes. Attempts are counted per account and per client
address; past the limit, the action is refused until the cool-off has passed (it lifts by
itself).

The throttles fail open: with the cache unreachable, nothing is counted and nothing is
refused (sign-in must not depend on Redis), and the outage is logged once per interval."""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata

from django.conf import settings
from django.core.cache import cache

from site_config.degraded import warn_once


def client_address(request) -> str:
    """The address of the client, as the last of our ``TRUSTED_PROXY_COUNT`` reverse proxies
    saw it. Each proxy appends the address it was connected from to ``X-Forwarded-For``, so
    the entry written by the outermost trusted proxy is the ``TRUSTED_PROXY_COUNT``-th from
    the right; anything left of it came from the client and may be made up."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote  # not through all our proxies: only the peer is known
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def account_key(email: str) -> str:
    """One key per mailbox as the database's case-insensitive lookup sees it: compatibility
    forms and case variants (a long s, U+017F, folds to ``s``) count as the same account."""
    return unicodedata.normalize("NFKC", email.strip()).casefold()


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(account_key(value).encode()).hexdigest()[:32]
    return f"accounts:throttle:{kind}:{digest}"


def _cache_down(error: Exception) -> None:
    warn_once(
        "accounts.throttle",
        "sign-in, sign-up and password reset are not throttled: the cache does not answer (%s)",
        error,
    )


class Throttle:
    def __init__(self, scope: str, *, limit: int, cooloff: int) -> None:
        self.scope, self.limit, self.cooloff = scope, limit, cooloff

    def keys(self, **identities: str) -> list[str]:
        return [_key(f"{self.scope}:{name}", value) for name, value in identities.items() if value]

    def blocked(self, **identities: str) -> bool:
        try:
            counts = cache.get_many(self.keys(**identities))
        except Exception as error:  # noqa: BLE001 - any cache failure: fail open
            _cache_down(error)
            return False
        return any(count >= self.limit for count in counts.values())

    def hit(self, **identities: str) -> None:
        try:
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
        except Exception as error:  # noqa: BLE001 - any cache failure: fail open
            _cache_down(error)

    def clear(self, **identities: str) -> None:
        try:
            cache.delete_many(self.keys(**identities))
        except Exception as error:  # noqa: BLE001 - any cache failure: fail open
            _cache_down(error)


def login_throttle() -> Throttle:
    return Throttle(
        "login", limit=settings.LOGIN_FAILURE_LIMIT, cooloff=settings.LOGIN_COOLOFF_SECONDS
    )


def signup_throttle() -> Throttle:
    return Throttle("signup", limit=settings.SIGNUP_LIMIT_PER_HOUR, cooloff=3600)


def password_reset_throttle() -> Throttle:
    # The same budget as sign-ups: each of these mails someone a link.
    return Throttle("reset", limit=settings.SIGNUP_LIMIT_PER_HOUR, cooloff=3600)
