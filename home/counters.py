"""The service counters on the home page: how many mailings, how many of them active, how
many unique clients they reach. Cached for HOME_COUNTERS_TTL seconds, never invalidated on a
change (docs/caching.md): a counter a minute behind harms no one. Computed afresh when there
is no cache to read (signed in, a preview, or the cache unreachable)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db.models.functions import Lower

from mailings.models import Client, Mailing
from site_config.public_cache import CACHE_ERRORS, cache_failed, uses_public_cache

COUNTERS_KEY = "public:home:counters"


def compute_counters() -> dict[str, int]:
    return {
        "mailings": Mailing.objects.count(),
        "active": Mailing.objects.filter(status=Mailing.Status.RUNNING, is_enabled=True).count(),
        "clients": Client.objects.filter(mailings__isnull=False)
        .values(email_key=Lower("email"))
        .distinct()
        .count(),
    }


def home_counters(request) -> dict[str, int]:
    if uses_public_cache(request):
        try:
            return cache.get_or_set(COUNTERS_KEY, compute_counters, settings.HOME_COUNTERS_TTL)
        except CACHE_ERRORS as error:
            cache_failed(request, error)
    return compute_counters()
