"""Post cards: a published post as a small card (image, title, teaser), for the home page's
three random posts. Every card is rendered once and kept in the cache under the generation;
three are picked at random on every request, so the picks differ while nothing is queried.
Without a cache (signed in, a preview, or the cache unreachable) they are rendered afresh."""

from __future__ import annotations

import random

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from blog.models import BlogPage
from site_config.public_cache import (
    CACHE_ERRORS,
    FRAGMENT_TIMEOUT,
    cache_failed,
    generation,
    uses_public_cache,
)

CARDS_KEY = "public:home:cards:{generation}"


def render_cards(posts, request=None) -> list[str]:
    # The request only lends {% pageurl %} the sites' root paths it may carry (see
    # public_cache.cache_failed); the cards are the same for every visitor.
    return [
        render_to_string("blog/includes/post_card.html", {"post": post, "request": request})
        for post in posts
    ]


def all_cards(request=None) -> list[str]:
    posts = BlogPage.objects.live().public().select_related("image").order_by("pk")
    return render_cards(posts, request)


def random_post_cards(request, *, count: int = 3) -> str:
    """``count`` published posts at random, as HTML (no query when the cards are cached)."""
    cards = None
    if uses_public_cache(request):
        try:
            cards = cache.get_or_set(
                CARDS_KEY.format(generation=generation()), all_cards, FRAGMENT_TIMEOUT
            )
        except CACHE_ERRORS as error:
            cache_failed(request, error)
    if cards is None:
        cards = all_cards(request)
    picked = random.sample(cards, min(count, len(cards)))
    return mark_safe("".join(picked))  # noqa: S308 - our own rendered templates
