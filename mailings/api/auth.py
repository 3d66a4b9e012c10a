"""``Authorization: Bearer <token>`` with Wagtail's API tokens (``wagtail.models.APIToken``:
stored as a keyed digest, shown once, named, revocable, with a last-used time). A revoked
token, or one whose user is blocked, is refused on the next request."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from wagtail.models import APIToken

LAST_USED_EVERY = 60  # seconds: the last-used time is written at most this often


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("The Authorization header is malformed."))
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("The token is not valid.")) from None
        if not APIToken.validate_token_format(token):
            raise exceptions.AuthenticationFailed(_("The token is not valid."))
        found = (
            APIToken.objects.select_related("user")
            .filter(key_hash__in=APIToken.candidate_key_hashes(token), revoked_at__isnull=True)
            .first()
        )
        if found is None or not found.user.is_active:
            raise exceptions.AuthenticationFailed(_("The token is not valid or was revoked."))
        now = timezone.now()
        interval = getattr(settings, "API_TOKEN_LAST_USED_EVERY", LAST_USED_EVERY)
        if found.last_used_at is None or (now - found.last_used_at).total_seconds() >= interval:
            APIToken.objects.filter(pk=found.pk).update(last_used_at=now)
        return found.user, found

    def authenticate_header(self, request):
        return self.keyword
