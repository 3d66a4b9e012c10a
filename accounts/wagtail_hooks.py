from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.views.account import BaseSettingsPanel

from accounts.forms import EmailChangeForm
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


class EmailSettingsPanel(BaseSettingsPanel):
    """Takes the place of Wagtail's e-mail field (``WAGTAIL_EMAIL_MANAGEMENT_ENABLED`` is
    off), which changed the address with no proof that its owner reads it."""

    name = "email"
    title = _("E-mail address")
    order = 110
    form_class = EmailChangeForm

    def get_form(self):
        data = (self.request.POST,) if self.request.method == "POST" else ()
        return self.form_class(*data, instance=self.user, prefix=self.name, request=self.request)


@hooks.register("register_account_settings_panel")
def email_settings_panel(request, user, profile):
    return EmailSettingsPanel(request, user, profile)
