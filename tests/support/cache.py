"""Emptying the cache between tests without touching anyone else's entries."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import caches


def clear_cache() -> None:
    """Remove this test run's cache entries. On Redis, only those under the run's key
    prefix (``cache.clear()`` would flush the whole database, and with it the entries of a
    second suite or a service sharing that Redis); the file cache is the run's own."""
    for store in (caches[alias] for alias in settings.CACHES):
        delete_pattern = getattr(store, "delete_pattern", None)
        if delete_pattern is not None:
            delete_pattern("*")
        else:
            store.clear()
