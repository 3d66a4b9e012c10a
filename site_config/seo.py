"""What search engines read first: ``/robots.txt`` (what not to crawl, and where the sitemap
is) and ``/sitemap.xml`` (Wagtail's: every live, public page, with the date of its last
publish), stored whole by the public page cache like any public page."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_GET
from wagtail.contrib.sitemaps.views import sitemap as wagtail_sitemap

from site_config.public_cache import mark_cacheable, uses_public_cache

# Pages that are nobody's business but their user's: the admin, accounts, the links in mails
# (unsubscribe, subscription and sender confirmations) and the API.
DISALLOWED = ("/admin/", "/accounts/", "/unsubscribe/", "/subscribe/", "/senders/", "/api/")


@require_GET
def robots_txt(request) -> HttpResponse:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in DISALLOWED), ""]
    lines.append(f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}")
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "max-age=3600"
    return response


@require_GET
def sitemap(request):
    if uses_public_cache(request):
        mark_cacheable(request)
    return wagtail_sitemap(request)


@require_GET
def favicon(request) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico where a page names no icon (a feed shown as XML, say)."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
