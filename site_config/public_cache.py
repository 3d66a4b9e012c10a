"""The public site's cache (docs/caching.md): whole pages with their few live parts filled in per
request, and the generation number that makes every cached page and fragment go stale at once
when the page tree changes.

For an anonymous GET (no session cookie) of a page that asked to be cached (``mark_cacheable``
in its ``serve``), the rendered HTML is kept under a key holding the generation, the host, the
language and the path, and nothing else of the request: a query string is either empty or
exactly one the page said it varies on (``?page=N`` of the blog index, for a page that exists,
or a blog search as its own form writes it, while the generation's budget of search entries
lasts); any other one is served uncached and stores nothing, so random query strings cannot
fill the cache. A hit skips Wagtail's routing entirely; the parts that must not be frozen are
marked in the HTML (``<!--live:name-->…<!--/live-->``) and filled on every hit by the filler a
page type registered for them (``live_part``): the home page's counters and random posts, a
post's view count.

Anything else (the admin, forms, signed-in users, previews, responses setting cookies) is
never stored.

The cache is an optimisation, never a dependency: when it cannot be reached, every public page
is rendered from the database as for a signed-in user (``cache_failed``), and the outage is
logged once per interval (``site_config.degraded``), not once per request.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.utils import translation
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from site_config.degraded import warn_once

logger = logging.getLogger(__name__)

GENERATION_KEY = "public:generation"
FRAGMENT_TIMEOUT = 24 * 3600
LIVE = re.compile(r"<!--live:([\w-]+)-->.*?<!--/live-->", re.S)
NEVER_CACHED = (
    "/admin/",
    "/accounts/",
    "/unsubscribe/",
    "/senders/",
    "/subscribe/",
    "/api/",
    "/healthz",
    "/static/",
    "/media/",
    "/documents/",
)

# What a cache that cannot be reached raises: Redis (django-redis re-raises redis' own errors,
# or wraps them) and the file cache (a folder that is gone, full or not writable).
CACHE_ERRORS: tuple[type[Exception], ...] = (RedisError, ConnectionInterrupted, OSError)
# The query strings a cached page may have besides none: one page number, as the blog
# index's own links write it (no leading zero, no sign, no second parameter), or a search of
# the blog (``q=`` at most 100 characters, percent-encoded, then maybe a page number). Which of
# them is stored is still the page's call (mark_query_cacheable): exactly the spelling its own
# links write, for a page that exists.
PAGE_QUERY = re.compile(r"page=[1-9][0-9]{0,8}")
SEARCH_QUERY = re.compile(r"q=[^&#=]{1,1200}(?:&page=[1-9][0-9]{0,8})?")
# A search can be anything a visitor types, so search pages are stored only while fewer than
# this many have been stored under the current generation: a hard bound on what made-up
# searches can put in the cache (about 10 KB each), whatever the number of visitors.
QUERY_ENTRIES = 1000
QUERY_ENTRIES_KEY = "public:query-entries:{generation}"
_CACHE_DOWN = "public_cache_down"

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
    """Previews and signed-in users neither read nor fill any public cache, nor does a request
    that already found the cache unreachable (it would wait for it again at every part)."""
    return (
        not getattr(request, "is_preview", False)
        and not request.user.is_authenticated
        and not getattr(request, _CACHE_DOWN, False)
    )


def cache_failed(request, error: Exception) -> None:
    """The cache could not be reached: the rest of this request does without it, and the
    outage is logged once per interval (the error's class only: its text names hosts)."""
    if request is not None and not getattr(request, _CACHE_DOWN, False):
        setattr(request, _CACHE_DOWN, True)
        # Wagtail reads the sites' root paths (for every {% pageurl %}) from the default
        # cache, without a fallback, unless the request already carries them.
        request._wagtail_cached_site_root_paths = site_root_paths()
    warn_once(
        "public-cache",
        "The cache is unreachable (%s): public pages are served uncached.",
        type(error).__name__,
    )


def site_root_paths() -> list:
    """What Wagtail's ``Site.get_site_root_paths()`` returns (WAGTAIL_I18N_ENABLED is off),
    from the database only."""
    from wagtail.models import Site
    from wagtail.models.sites import SiteRootPath

    sites = Site.objects.select_related("root_page", "root_page__locale").order_by(
        "-root_page__url_path", "-is_default_site", "hostname"
    )
    return [
        SiteRootPath(
            site.id, site.root_page.url_path, site.root_url, site.root_page.locale.language_code
        )
        for site in sites
    ]


def mark_cacheable(request, **live: object) -> None:
    """Called by a page's serve(): store this response, and on every hit call the fillers
    registered under these names with these values."""
    request.public_page_live = live


def mark_query_cacheable(request, query: str) -> None:
    """Called while rendering: this page's content depends on this query string (and it names
    something that exists), so a response to it may be stored under its own key."""
    request.public_page_query = query


def live_marker(name: str, content: str) -> str:
    return f"<!--live:{name}-->{content}<!--/live-->"


def generation() -> int:
    value = cache.get(GENERATION_KEY)
    if value is None:
        cache.add(GENERATION_KEY, 1, timeout=None)
        value = cache.get(GENERATION_KEY, 1)
    return value


def bump_generation(**kwargs) -> None:
    try:
        if not cache.add(GENERATION_KEY, 2, timeout=None):
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:
                cache.set(GENERATION_KEY, 2, timeout=None)
            cache.touch(GENERATION_KEY, None)  # the file cache resets the expiry on incr
    except CACHE_ERRORS as error:
        # The change itself (a publish, a privacy setting) must not fail for the cache. What
        # was cached before the outage may be served again once the cache is back, until it
        # expires: say so, every time (this is rare and it matters).
        logger.error(
            "The cache is unreachable (%s): the public pages' generation was not bumped; "
            "pages cached before the outage may be served until they expire (%s s).",
            type(error).__name__,
            FRAGMENT_TIMEOUT,
        )


def fragment_context(request) -> dict:
    """What a page's template needs for its ``{% wagtailpagecache %}`` fragments."""
    current = 0
    if uses_public_cache(request):
        try:
            current = generation()
        except CACHE_ERRORS as error:
            cache_failed(request, error)
    return {
        "public_cache": uses_public_cache(request),
        "cache_generation": current,
        "cache_timeout": FRAGMENT_TIMEOUT,
    }


def named_host(request) -> bool:
    """Whether the request's Host is one the operator wrote down (an ALLOWED_HOSTS entry or
    SITE_URL's host) with no port, SITE_URL's, or the one the request came in on. A host allowed
    only through a wildcard (``*``, ``.example.org``), or any other port (Django checks a Host's
    name, not its port), is one a visitor can vary at will: such a request is served uncached."""
    domain, port = split_domain_port(request.get_host())
    site_domain, site_port = split_domain_port(urlsplit(settings.SITE_URL).netloc)
    named = {host.lower().lstrip(".") for host in settings.ALLOWED_HOSTS} | {site_domain}
    return domain in named and port in ("", site_port, str(request.get_port()))


class PublicPageCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not self.eligible(request):
            return self.get_response(request)
        query = request.META.get("QUERY_STRING", "")
        try:
            key = self.key(request, generation(), query)
            entry = cache.get(key)
        except CACHE_ERRORS as error:
            cache_failed(request, error)
            return self.get_response(request)
        if entry is not None:
            return self.hit(request, entry)
        response = self.get_response(request)
        live = getattr(request, "public_page_live", None)
        if (
            live is not None
            and uses_public_cache(request)
            and query == getattr(request, "public_page_query", "")
            and response.status_code == 200
            and not response.streaming
            and not response.cookies
            and self.within_budget(request, query)
        ):
            entry = {
                "content": response.content.decode(),
                "live": live,
                "content_type": response["Content-Type"],
            }
            try:
                cache.set(key, entry, FRAGMENT_TIMEOUT)
            except CACHE_ERRORS as error:
                cache_failed(request, error)
        return response

    @staticmethod
    def key(request, current_generation: int, query: str) -> str:
        # The host is one the operator named, the language one of LANGUAGES, the path one of
        # the tree's pages (any other is a 404, not stored), the query empty, a page number
        # or a search within the generation's budget: nothing a visitor can vary at will
        # goes unbounded into the cache (see eligible() and within_budget()).
        language = translation.get_language()  # set by LocaleMiddleware
        if len(query) > 64:  # a long search: its digest keeps the key short (memcached: 250)
            query = "sha256-" + hashlib.sha256(query.encode()).hexdigest()
        path = request.path + (f"?{query}" if query else "")
        return f"public:page:{current_generation}:{request.get_host()}:{language}:{path}"

    @staticmethod
    def eligible(request) -> bool:
        query = request.META.get("QUERY_STRING", "")
        return (
            request.method == "GET"
            and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not request.path.startswith(NEVER_CACHED)
            and (not query or any(q.fullmatch(query) for q in (PAGE_QUERY, SEARCH_QUERY)))
            and named_host(request)
        )

    @staticmethod
    def within_budget(request, query: str) -> bool:
        """A search page may be stored while the generation's budget lasts (QUERY_ENTRIES);
        a page number of the list always may (there are only as many as pages)."""
        if not SEARCH_QUERY.fullmatch(query):
            return True
        key = QUERY_ENTRIES_KEY.format(generation=generation())
        try:
            cache.add(key, 0, FRAGMENT_TIMEOUT)
            return cache.incr(key) <= QUERY_ENTRIES
        except ValueError:  # expired between add and incr: the next search starts it again
            return False
        except CACHE_ERRORS as error:
            cache_failed(request, error)
            return False

    def hit(self, request, entry: dict) -> HttpResponse:
        values: dict[str, str] = {}
        for name, value in entry["live"].items():
            values.update(_fillers[name](request, value))
        content = LIVE.sub(lambda m: live_marker(m[1], values.get(m[1], "")), entry["content"])
        response = HttpResponse(content, content_type=entry["content_type"])
        response["Vary"] = "Accept-Language, Cookie"
        response["X-Page-Cache"] = "hit"
        return response
