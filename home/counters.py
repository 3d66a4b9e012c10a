"""The service counters on the home page: how many mailings, how many of them active, how
many unique clients (by address) they reach, by hand or through their lists.

Computed off the request (issue 25: the unique-clients count was 4 s of a visitor's request
at a million clients, and several visitors could compute it at once): the beat's
``refresh-home-counters`` recomputes them every ``HOME_COUNTERS_TTL`` seconds, one process
at a time, into a one-row table; a request reads that row (``home.models.home_counters``,
through the public cache when it may): one primary-key lookup. Before the first refresh the
figures are zeros.
A counter a minute behind harms no one (docs/caching.md)."""

from __future__ import annotations

import contextlib
import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models.functions import Lower

from home.models import COUNTERS_KEY, ServiceCounters
from mailings.models import Client, Mailing, Membership
from site_config.public_cache import CACHE_ERRORS

logger = logging.getLogger(__name__)

REFRESHING_KEY = "home:counters:refreshing"


def compute_counters() -> dict[str, int]:
    """The aggregates themselves (the beat's work, never a visitor's)."""
    by_hand = Mailing.clients.through.objects.values("client_id")
    by_list = Membership.objects.filter(client_list__mailings__isnull=False).values("client_id")
    return {
        "mailings": Mailing.objects.count(),
        "active": Mailing.objects.filter(status=Mailing.Status.RUNNING, is_enabled=True).count(),
        # One IN over a UNION, not two INs joined by OR: PostgreSQL answers OR-ed IN
        # subqueries of millions of ids row by row (minutes), a UNION with one hash join.
        "clients": Client.objects.filter(pk__in=by_hand.union(by_list))
        .values(email_key=Lower("email"))
        .distinct()
        .count(),
    }


def refresh() -> dict[str, int] | None:
    """Recompute and store the counters; None if another process is at it (a lock in the
    cache; with the cache down, each beat's tick computes on its own)."""
    try:
        if not cache.add(REFRESHING_KEY, 1, timeout=max(settings.HOME_COUNTERS_TTL, 60)):
            return None
    except CACHE_ERRORS as error:
        logger.warning("home counters: cache unavailable, refreshing without a lock: %s", error)
    try:
        values = compute_counters()
        ServiceCounters.objects.update_or_create(pk=1, defaults=values)
        with contextlib.suppress(*CACHE_ERRORS):
            cache.set(COUNTERS_KEY, values, settings.HOME_COUNTERS_TTL)
        return values
    finally:
        with contextlib.suppress(*CACHE_ERRORS):
            cache.delete(REFRESHING_KEY)
