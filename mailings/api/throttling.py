"""Requests per token (per user for the browsable pages) in the shared cache. Like the sign-in
throttles, it fails open: with the cache unreachable nothing is counted, and that is logged."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from site_config.degraded import warn_once


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_cache_key(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        token = getattr(request.auth, "pk", None)
        ident = f"token-{token}" if token is not None else f"user-{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as error:  # noqa: BLE001 - any cache failure: fail open
            warn_once("api.throttle", "API requests are not throttled: the cache fails (%s)", error)
            return True
