"""What the public site caches, and when it forgets (docs/caching.md).

- A *generation* number in the cache is part of every cached fragment's key; publishing,
  unpublishing, moving or deleting a page bumps it, so the blog index and the home page
  show the change at once (old fragments just expire unused).
- The home page's counters are cached for HOME_COUNTERS_TTL seconds.
- The home page's post cards are cached as rendered HTML, all of them; three are picked at
  random on every request, so the picks differ while the page is cached.
- Previews and signed-in users neither read nor fill any of it.
"""

from __future__ import annotations

import random

from django.conf import settings
from django.core.cache import cache
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

GENERATION_KEY = "public:generation"
COUNTERS_KEY = "public:home:counters"
CARDS_KEY = "public:home:cards:{generation}"
FRAGMENT_TIMEOUT = 24 * 3600


def uses_public_cache(request) -> bool:
    return not getattr(request, "is_preview", False) and not request.user.is_authenticated


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    return value


def bump_generation(**kwargs) -> None:
    if not cache.add(GENERATION_KEY, 2, timeout=None):
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:
            cache.set(GENERATION_KEY, 2, timeout=None)
        cache.touch(GENERATION_KEY, None)  # the file cache resets the expiry on incr


def compute_counters() -> dict[str, int]:
    from mailings.models import Client, Mailing

    return {
        "mailings": Mailing.objects.count(),
        "active": Mailing.objects.filter(status=Mailing.Status.RUNNING, is_enabled=True).count(),
        "clients": Client.objects.filter(mailings__isnull=False)
        .values(email_key=Lower("email"))
        .distinct()
        .count(),
    }


def home_counters(request) -> dict[str, int]:
    if not uses_public_cache(request):
        return compute_counters()
    return cache.get_or_set(COUNTERS_KEY, compute_counters, settings.HOME_COUNTERS_TTL)


def render_cards(posts) -> list[str]:
    return [render_to_string("blog/includes/post_card.html", {"post": post}) for post in posts]


def random_post_cards(request, *, count: int = 3) -> str:
    """Three published posts at random, as HTML (no query when the cards are cached)."""
    from blog.models import BlogPage

    def all_cards() -> list[str]:
        posts = BlogPage.objects.live().public().select_related("image").order_by("pk")
        return render_cards(posts)

    if uses_public_cache(request):
        cards = cache.get_or_set(
            CARDS_KEY.format(generation=generation()), all_cards, FRAGMENT_TIMEOUT
        )
    else:
        cards = all_cards()
    picked = random.sample(cards, min(count, len(cards)))
    return mark_safe("".join(picked))  # noqa: S308 - our own rendered templates
