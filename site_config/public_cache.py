"""The public site's cache (docs/caching.md): whole pages with their few live parts filled in
per request, and the generation number that makes every cached page and fragment go stale at
once when the page tree changes.

For an anonymous GET (no session cookie) of a page that asked to be cached (``mark_cacheable``
in its ``serve``), the rendered HTML is kept under a key holding the generation, the host, the
language and the full path. A hit skips Wagtail's routing entirely; the parts that must not be
frozen are marked in the HTML (``<!--live:name-->…<!--/live-->``) and filled on every hit by
the filler a page type registered for them (``live_part``): the home page's counters and
random posts, a post's view count.

Anything else (the admin, forms, signed-in users, previews, responses setting cookies) is
never stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import translation

GENERATION_KEY = "public:generation"
FRAGMENT_TIMEOUT = 24 * 3600
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

# name given to mark_cacheable -> function(request, value) returning {marker name: HTML}
Filler = Callable[[HttpRequest, object], dict[str, str]]
_fillers: dict[str, Filler] = {}


def live_part(name: str) -> Callable[[Filler], Filler]:
    """Register the filler of the live parts a page marks with ``mark_cacheable(name=…)``."""

    def register(filler: Filler) -> Filler:
        _fillers[name] = filler
        return filler

    return register


def uses_public_cache(request) -> bool:
    """Previews and signed-in users neither read nor fill any public cache."""
    return not getattr(request, "is_preview", False) and not request.user.is_authenticated


def mark_cacheable(request, **live: object) -> None:
    """Called by a page's serve(): store this response, and on every hit call the fillers
    registered under these names with these values."""
    request.public_page_live = live


def live_marker(name: str, content: str) -> str:
    return f"<!--live:{name}-->{content}<!--/live-->"


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


def fragment_context(request) -> dict:
    """What a page's template needs for its ``{% wagtailpagecache %}`` fragments."""
    public = uses_public_cache(request)
    return {
        "public_cache": public,
        "cache_generation": generation() if public else 0,
        "cache_timeout": FRAGMENT_TIMEOUT,
    }


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
        values: dict[str, str] = {}
        for name, value in entry["live"].items():
            values.update(_fillers[name](request, value))
        content = LIVE.sub(lambda m: live_marker(m[1], values.get(m[1], "")), entry["content"])
        response = HttpResponse(content, content_type=entry["content_type"])
        response["Vary"] = "Accept-Language, Cookie"
        response["X-Page-Cache"] = "hit"
        return response
