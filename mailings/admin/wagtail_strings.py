"""Strings of Wagtail 8's API token pages that its Russian catalogue does not have yet. Marked
here so that ``makemessages`` keeps them in ours (``locale/``, which Django asks first); never
used from this module."""

from django.utils.translation import gettext_lazy as _

API_TOKEN_STRINGS = (
    _("API token"),
    _("API tokens"),
    _("API token created"),
    _("A human-readable label to identify this token."),
    _("API token '%(name)s' revoked."),
    _("Are you sure you want to revoke this API token?"),
    _("Back to API tokens"),
    _("Copied to clipboard"),
    _("Copy token"),
    _("Copying failed — please select and copy the token manually."),
    _("Last used"),
    _("No, don't revoke"),
    _("Revoke"),
    _("Revoked"),
    _("Token"),
    _("Never"),
    _("last used at"),
    _("revoked at"),
)
