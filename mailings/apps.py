from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailingsConfig(AppConfig):
    name = "mailings"
    verbose_name = _("Mailings")

    def ready(self) -> None:
        from wagtail.images import get_image_model
        from wagtail.permissions import register_permission_policy

        from mailings import checks  # noqa: F401 - registers the start-up checks
        from mailings.models import (
            Attempt,
            Client,
            ClientList,
            Delivery,
            Job,
            Mailing,
            Message,
            Sender,
            Subscription,
        )
        from mailings.permissions import OwnedRowsPolicy, OwnUploadsImagePolicy

        # One policy per model, registered before any view asks Wagtail for one.
        for model, owner_path, moderated in (
            (Client, "owner", False),
            (ClientList, "owner", False),
            (Subscription, "client_list__owner", False),
            (Message, "owner", False),
            (Sender, "owner", False),
            (Mailing, "owner", True),
            (Attempt, "mailing__owner", True),
            (Delivery, "attempt__mailing__owner", True),
            # A job is its owner's alone, a moderator's exports included.
            (Job, "owner", False),
        ):
            register_permission_policy(
                model, OwnedRowsPolicy(model, owner_path=owner_path, moderated=moderated)
            )
        # A user of the mailings chooses only the images they uploaded. Registered for the
        # exact class: wagtail.images registers its own policy later, for the class and its
        # subclasses, and an exact registration comes first.
        image = get_image_model()
        register_permission_policy(
            image,
            OwnUploadsImagePolicy(
                image, auth_model="wagtailimages.Image", owner_field_name="uploaded_by_user"
            ),
            exact_class=True,
        )
