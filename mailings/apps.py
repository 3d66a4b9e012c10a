from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        from wagtail.permissions import register_permission_policy

        from mailings import checks  # noqa: F401 - registers the start-up checks
        from mailings.models import Attempt, Client, Delivery, Mailing, Message
        from mailings.permissions import OwnedRowsPolicy

        # One policy per model, registered before any view asks Wagtail for one.
        for model, owner_path, moderated in (
            (Client, "owner", False),
            (Message, "owner", False),
            (Mailing, "owner", True),
            (Attempt, "mailing__owner", True),
            (Delivery, "attempt__mailing__owner", True),
        ):
            register_permission_policy(
                model, OwnedRowsPolicy(model, owner_path=owner_path, moderated=moderated)
            )
