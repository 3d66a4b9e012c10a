"""The Content-Security-Policy of every response (django-csp): the strict policy of
``CONTENT_SECURITY_POLICY`` everywhere, and under the Wagtail admin the few sources Wagtail 8
still needs (docs/decisions.md).

The public site needs nothing inline: its pages load their stylesheet, icon and images from
this site, have no script, and are cached whole (a per-request nonce would be frozen into the
cached copy, so the public policy uses none).

The admin is Wagtail's, and Wagtail 8 is not CSP-clean. What it needs, as measured in Chromium
with the strict policy on the admin (the browser journeys and a walk through the admin):

- ``script-src 'unsafe-inline'``: Wagtail's date, time and date-time widgets
  (``wagtailadmin/widgets/date_input.html`` and its siblings: the listing filters, a mailing's
  start and end) start themselves with an inline ``<script>``, without a nonce;
  ``InlinePanel`` and ``MultipleChooserPanel`` do the same.
- ``style-src 'unsafe-inline'``: ``style="…"`` attributes, today those of the mailings admin's
  own templates (the dashboard panel, a message's preview, a mailing's page); moving them to a
  stylesheet would let this go.
- ``img-src blob:``: an image being uploaded is previewed from a ``blob:`` URL.
- ``frame-ancestors 'self'``: the page preview is the admin framing its own preview, which
  Wagtail renders through this middleware again, for a dummy request of the page's public path.

Swagger UI, the API's documentation page (``/api/v1/docs/``, served from our own files), sets
``style`` attributes and draws its icons from ``data:`` images: that page alone gets
``style-src 'unsafe-inline'`` and ``img-src data:``; its scripts are files of this site.

No ``'unsafe-eval'``: nothing in Wagtail's admin as used here needs it. ``connect-src`` stays
``'self'`` because Wagtail's upgrade check is off (``WAGTAIL_ENABLE_UPDATE_CHECK``).
"""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

ADMIN_PREFIX = "/admin/"
ADMIN_UPDATE = {
    "script-src": [UNSAFE_INLINE],
    "style-src": [UNSAFE_INLINE],
    "img-src": ["blob:"],
}
ADMIN_REPLACE = {"frame-ancestors": [SELF]}
API_DOCS_PREFIX = "/api/v1/docs/"
API_DOCS_UPDATE = {"style-src": [UNSAFE_INLINE], "img-src": ["data:"]}


def in_admin(request: HttpRequest) -> bool:
    # A preview is rendered by Wagtail through the whole middleware chain again, on a dummy
    # request for the page's public path, and its response (with the policy this middleware
    # gave it) is what the admin's preview panel frames.
    return request.path_info.startswith(ADMIN_PREFIX) or getattr(request, "is_dummy", False)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the admin's relaxations applied under ``/admin/``."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if in_admin(request):
            parts.update = {**ADMIN_UPDATE, **(parts.update or {})}
            parts.replace = {**ADMIN_REPLACE, **(parts.replace or {})}
        elif request.path_info.startswith(API_DOCS_PREFIX):
            parts.update = {**API_DOCS_UPDATE, **(parts.update or {})}
        return parts
