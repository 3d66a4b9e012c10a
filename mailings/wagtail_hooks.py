from django.templatetags.static import static
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.ui.menus.pages import PageMenuItem
from wagtail.admin.viewsets.model import ModelViewSetGroup
from wagtail.models import Page
from wagtail.permissions import policy_registry

from blog.models import BlogPage
from mailings.admin.api_tokens import OwnAPITokenViewSet
from mailings.admin.attempts import AttemptViewSet
from mailings.admin.bulk import ACTIONS as CLIENT_BULK_ACTIONS
from mailings.admin.clients import ClientViewSet
from mailings.admin.deliveries import FailedDeliveryViewSet
from mailings.admin.jobs import JobViewSet
from mailings.admin.lists import ClientListViewSet
from mailings.admin.mailings import MailingViewSet
from mailings.admin.media_api import ChoosableDocumentsAPIViewSet, ChoosableImagesAPIViewSet
from mailings.admin.messages import MessageViewSet
from mailings.admin.senders import SenderViewSet
from mailings.blocks import mailable_posts
from mailings.dashboard import MailingsPanel
from mailings.models import (
    Attempt,
    Client,
    ClientList,
    Delivery,
    Mailing,
    MailingsLogEntry,
    Message,
    Sender,
)
from mailings.permissions import policy_for


class MailingsGroup(ModelViewSetGroup):
    menu_label = _("Mailings")
    menu_icon = "mail"
    menu_order = 100
    items = (
        ClientViewSet,
        ClientListViewSet,
        MessageViewSet,
        SenderViewSet,
        MailingViewSet,
        AttemptViewSet,
        FailedDeliveryViewSet,
        JobViewSet,
        # Wagtail's own API tokens (named, shown once, stored as a digest, revocable), beside
        # the rest of a user's mailing work rather than under Settings, which users do not see:
        # each manages their own; the API accepts them (mailings.api.auth). Wagtail registers
        # this view only with its own API app, which this project does not use.
        OwnAPITokenViewSet(
            "wagtailusers_api_tokens", url_prefix="api-tokens", add_to_settings_menu=False
        ),
    )


@hooks.register("register_admin_viewset")
def register_mailings_admin():
    return MailingsGroup()


for action in CLIENT_BULK_ACTIONS:
    hooks.register("register_bulk_action", action)


@hooks.register("register_log_actions")
def log_mailings_with_their_owner(actions):
    for model in (Client, ClientList, Message, Sender, Mailing, Attempt, Delivery):
        actions.register_model(model, MailingsLogEntry)
    actions.register_action("mailings.send_now", _("Send now"), _("Mailing sent now"))
    actions.register_action("mailings.disable", _("Disable mailing"), _("Mailing disabled"))
    actions.register_action("mailings.enable", _("Enable mailing"), _("Mailing enabled"))
    actions.register_action(
        "mailings.retry_failed", _("Retry failed deliveries"), _("Failed deliveries sent again")
    )
    actions.register_action("mailings.test_queued", _("Test queued"), _("Test queued"))
    actions.register_action("mailings.test_sent", _("Test sent"), _("Test sent"))
    actions.register_action("mailings.test_failed", _("Test failed"), _("Test not sent"))
    actions.register_action(
        "mailings.sender_link_sent", _("Confirmation link sent"), _("Confirmation link sent")
    )
    actions.register_action(
        "mailings.sender_confirmed", _("Sender confirmed"), _("Sender address confirmed")
    )


# After Wagtail's own hooks (order 0), which register the unfiltered endpoints.
@hooks.register("construct_admin_api", order=100)
def list_only_choosable_media_in_the_admin_api(router):
    router.register_endpoint("images", ChoosableImagesAPIViewSet)
    router.register_endpoint("documents", ChoosableDocumentsAPIViewSet)


@hooks.register("construct_main_menu")
def hide_help_from_non_editors(request, menu_items):
    # Wagtail's Help menu is about editing pages; users and managers of mailings see only
    # the Mailings menu.
    if not request.user.is_superuser:
        menu_items[:] = [item for item in menu_items if item.name != "help"]


@hooks.register("construct_homepage_panels")
def add_mailings_panel(request, panels):
    if policy_for(Mailing).user_has_permission(request.user, "view"):
        panels.insert(0, MailingsPanel(request.user))


@hooks.register("insert_global_admin_css")
def admin_css():
    return format_html('<link rel="stylesheet" href="{}">', static("mailings/css/admin.css"))


@hooks.register("construct_page_chooser_queryset")
def only_public_pages_for_mailings_users(pages, request):
    """A message's blog post block opens the page chooser: someone who does not edit the
    site (a user, a manager) sees only what any visitor sees, never a draft's or a private
    page's title."""
    if policy_registry.get_by_type(Page).explorable_root_instance(request.user) is not None:
        return pages
    return pages.live().public()


class MailThisPostButton(PageMenuItem):
    """ "Mail this post" in a published post's menus, for whoever may write messages."""

    label = _("Mail this post")
    icon_name = "mail"

    @cached_property
    def url(self):
        return reverse("mailings_messages:from_post", args=[self.page.pk])

    def is_shown(self, user):
        return (
            self.page.specific_class is BlogPage
            and self.page.live
            and policy_for(Message).user_has_permission(user, "add")
            and mailable_posts().filter(pk=self.page.pk).exists()
        )


@hooks.register("register_page_header_buttons")
def mail_this_post_in_the_editor(page, user, view_name, next_url=None):
    yield MailThisPostButton(page=page, priority=45)


@hooks.register("register_page_listing_more_buttons")
def mail_this_post_in_the_listing(page, user, next_url=None):
    yield MailThisPostButton(page=page, priority=45)
