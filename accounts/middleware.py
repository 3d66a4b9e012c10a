"""Wagtail's own user and group management answers the admin's "not allowed" page (403) to
those without permission on users or groups (managers included), instead of redirecting them
to the dashboard."""

from __future__ import annotations

from django.utils.translation import gettext as _
from wagtail.admin.localization import get_localized_response

from mailings.admin.scoped import forbidden

GUARDED = {
    "/admin/users/": "accounts.{}_user",
    "/admin/groups/": "auth.{}_group",
}


class UserAdminGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for prefix, permission in GUARDED.items():
            if request.path.startswith(prefix) and request.user.is_authenticated:
                actions = ("add", "change", "delete", "view")
                if not any(request.user.has_perm(permission.format(a)) for a in actions):
                    # In the person's own admin language, as Wagtail's views answer.
                    return get_localized_response(
                        lambda request: forbidden(
                            request, _("You may not manage users or groups.")
                        ),
                        request,
                    )
        return self.get_response(request)
