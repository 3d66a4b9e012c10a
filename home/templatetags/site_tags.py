"""Tags of the public site's ``<head>``: the canonical link of every page, and the link to the
blog's feed that feed readers discover."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.core.cache import cache
from django.utils.html import format_html
from django.utils.translation import gettext as _

from blog.models import BlogIndexPage
from site_config.public_cache import (
    CACHE_ERRORS,
    FRAGMENT_TIMEOUT,
    cache_failed,
    generation,
    uses_public_cache,
)

register = template.Library()

FEED_URL_KEY = "public:feed-url:{generation}"


@register.simple_tag(takes_context=True)
def canonical_link(context) -> str:
    """The page's address as the operator's site names it: a Wagtail page's full URL (with
    the page number of a list past its first page), else SITE_URL and the path."""
    request = context.get("request")
    url = context.get("canonical_url")
    page = context.get("page")
    if not url and hasattr(page, "get_full_url"):
        url = page.get_full_url(request)
    if not url and request is not None:
        url = settings.SITE_URL + request.path
    return format_html('<link rel="canonical" href="{}">', url) if url else ""


@register.simple_tag(takes_context=True)
def feed_link(context) -> str:
    """``<link rel="alternate">`` to the blog's feed, when the blog is published and public
    (looked up once per cache generation)."""
    request = context.get("request")
    url = context.get("feed_url")
    if url is None:
        url = _blog_feed_url(request)
    if not url:
        return ""
    return format_html(
        '<link rel="alternate" type="application/atom+xml" title="{}" href="{}">',
        _("Blog feed"),
        url,
    )


def _blog_feed_url(request) -> str:
    def lookup() -> str:
        blog = BlogIndexPage.objects.live().public().first()
        return blog.feed_url(request) if blog else ""

    if request is not None and uses_public_cache(request):
        try:
            return cache.get_or_set(
                FEED_URL_KEY.format(generation=generation()), lookup, FRAGMENT_TIMEOUT
            )
        except CACHE_ERRORS as error:
            cache_failed(request, error)
    return lookup()
