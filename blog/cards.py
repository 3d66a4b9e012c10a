"""Post cards: a published post as a small card (image, title, teaser), for the home page's
three random posts. Every card is rendered once and kept in the cache under the generation;
three are picked at random on every request, so the picks differ while nothing is queried."""

from __future__ import annotations

import random

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from blog.models import BlogPage
from site_config.public_cache import FRAGMENT_TIMEOUT, generation, uses_public_cache

CARDS_KEY = "public:home:cards:{generation}"


def render_cards(posts) -> list[str]:
    return [render_to_string("blog/includes/post_card.html", {"post": post}) for post in posts]


def all_cards() -> list[str]:
    posts = BlogPage.objects.live().public().select_related("image").order_by("pk")
    return render_cards(posts)


def random_post_cards(request, *, count: int = 3) -> str:
    """``count`` published posts at random, as HTML (no query when the cards are cached)."""
    if uses_public_cache(request):
        cards = cache.get_or_set(
            CARDS_KEY.format(generation=generation()), all_cards, FRAGMENT_TIMEOUT
        )
    else:
        cards = all_cards()
    picked = random.sample(cards, min(count, len(cards)))
    return mark_safe("".join(picked))  # noqa: S308 - our own rendered templates
