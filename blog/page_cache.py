"""Whole public pages from the cache, with their few live parts filled in per request.

For an anonymous GET (no session cookie) of a page that asked to be cached, the rendered HTML
is kept under a key holding the cache generation, the host, the language and the full path.
A hit skips Wagtail's routing entirely; the parts that must not be frozen are marked in the
HTML (``<!--live:name-->…<!--/live-->``) and filled on every hit:

- the home page's three random posts (from the cached cards) and its counters (cached for
  HOME_COUNTERS_TTL);
- a post's view count, after the view's own ``UPDATE … RETURNING`` (one query).

Anything else (the admin, forms, signed-in users, previews, responses setting cookies) is
never stored. See docs/caching.md.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import ngettext

from blog.caching import FRAGMENT_TIMEOUT, generation, home_counters, random_post_cards

LIVE = re.compile(r"<!--live:([\w-]+)-->.*?<!--/live-->", re.S)
NEVER_CACHED = (
    "/admin/",
    "/accounts/",
    "/unsubscribe/",
    "/healthz",
    "/static/",
    "/media/",
    "/documents/",
)


def mark_cacheable(request, **live: object) -> None:
    """Called by a page's serve(): store this response, and fill these live parts on hits."""
    request.public_page_live = live


def live_marker(name: str, content: str) -> str:
    return f"<!--live:{name}-->{content}<!--/live-->"


class PublicPageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self.eligible(request):
            return self.get_response(request)
        language = translation.get_language()  # set by LocaleMiddleware
        path = request.get_full_path()
        key = f"public:page:{generation()}:{request.get_host()}:{language}:{path}"
        entry = cache.get(key)
        if entry is not None:
            return self.hit(request, entry)
        response = self.get_response(request)
        live = getattr(request, "public_page_live", None)
        if (
            live is not None
            and response.status_code == 200
            and not response.streaming
            and not response.cookies
        ):
            cache.set(
                key,
                {
                    "content": response.content.decode(),
                    "live": live,
                    "content_type": response["Content-Type"],
                },
                FRAGMENT_TIMEOUT,
            )
        return response

    @staticmethod
    def eligible(request) -> bool:
        return (
            request.method == "GET"
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not request.path.startswith(NEVER_CACHED)
        )

    def hit(self, request, entry: dict) -> HttpResponse:
        values = live_values(request, entry["live"])
        content = LIVE.sub(lambda m: live_marker(m[1], values.get(m[1], "")), entry["content"])
        response = HttpResponse(content, content_type=entry["content_type"])
        response["Vary"] = "Accept-Language, Cookie"
        response["X-Page-Cache"] = "hit"
        return response


def live_values(request, live: dict) -> dict[str, str]:
    values: dict[str, str] = {}
    if live.get("home"):
        counters = home_counters(request)
        values.update({f"counter-{name}": str(value) for name, value in counters.items()})
        values["random-posts"] = random_post_cards(request)
    if live.get("post_id"):
        views = count_view(live["post_id"])
        values["views"] = escape(views_text(views))
    return values


def count_view(post_id: int) -> int:
    """One more view, atomically, and the new count: a single UPDATE … RETURNING."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE blog_blogpage SET view_count = view_count + 1 "
            "WHERE page_ptr_id = %s RETURNING view_count",
            [post_id],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def views_text(count: int) -> str:
    return ngettext("%(counter)s view", "%(counter)s views", count) % {"counter": count}
