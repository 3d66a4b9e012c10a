from django.utils.translation import gettext_lazy as _
from wagtail import hooks

from accounts.moderation import UserModerationViewSet

moderation = UserModerationViewSet()


@hooks.register("register_admin_viewset")
def register_user_moderation():
    return moderation


@hooks.register("register_admin_menu_item")
def users_menu_item():
    return moderation.get_menu_item()


@hooks.register("register_log_actions")
def register_moderation_actions(actions):
    actions.register_action("accounts.block", _("Block user"), _("User blocked"))
    actions.register_action("accounts.unblock", _("Unblock user"), _("User unblocked"))
