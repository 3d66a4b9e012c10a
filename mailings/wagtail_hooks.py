from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSetGroup

from mailings.admin.attempts import AttemptViewSet
from mailings.admin.clients import ClientViewSet
from mailings.admin.deliveries import FailedDeliveryViewSet
from mailings.admin.mailings import MailingViewSet
from mailings.admin.messages import MessageViewSet
from mailings.dashboard import MailingsPanel
from mailings.models import Attempt, Client, Delivery, Mailing, MailingsLogEntry, Message
from mailings.permissions import policy_for


class MailingsGroup(ModelViewSetGroup):
    menu_label = _("Mailings")
    menu_icon = "mail"
    menu_order = 100
    items = (
        ClientViewSet,
        MessageViewSet,
        MailingViewSet,
        AttemptViewSet,
        FailedDeliveryViewSet,
    )


@hooks.register("register_admin_viewset")
def register_mailings_admin():
    return MailingsGroup()


@hooks.register("register_log_actions")
def log_mailings_with_their_owner(actions):
    for model in (Client, Message, Mailing, Attempt, Delivery):
        actions.register_model(model, MailingsLogEntry)
    actions.register_action("mailings.send_now", _("Send now"), _("Mailing sent now"))
    actions.register_action("mailings.disable", _("Disable mailing"), _("Mailing disabled"))
    actions.register_action("mailings.enable", _("Enable mailing"), _("Mailing enabled"))
    actions.register_action(
        "mailings.retry_failed", _("Retry failed deliveries"), _("Failed deliveries sent again")
    )


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
