"""Choices of the listings' filters: only what the request may see, as the policy says."""

from __future__ import annotations

from accounts.models import User
from mailings.models import Mailing
from mailings.permissions import policy_for


def visible_mailings(request):
    if request is None:
        return Mailing.objects.none()
    return (
        policy_for(Mailing)
        .instances_user_has_permission_for(request.user, "view")
        .select_related("message")  # the choices show each mailing's subject
    )


def visible_owners(request):
    """Owners of the mailings this request may see: for the Owner filters of managers."""
    if request is None:
        return User.objects.none()
    return User.objects.filter(pk__in=visible_mailings(request).values("owner")).order_by("email")
