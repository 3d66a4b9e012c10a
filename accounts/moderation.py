"""The managers' users listing in the admin, with Block / Unblock (POST; GET confirms).

A listing of our own rather than Wagtail's user management: managers may see users and
block them, never edit their details or groups, so they get no permission on the user model
at all, only ``accounts.block_user``."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import BooleanColumn, Column, DateColumn, TitleColumn
from wagtail.admin.views import generic
from wagtail.admin.viewsets.base import ViewSet

from accounts import services
from accounts.models import User
from mailings.admin.scoped import forbidden

BLOCK_PERMISSION = "accounts.block_user"


# The groups' names are data; these are shown in the reader's language.
ROLE_NAMES = {
    "Users": _("Users"),
    "Managers": _("Managers"),
    "Site editors": _("Site editors"),
    "Site moderators": _("Site moderators"),
}


def role_name(group) -> str:
    return str(ROLE_NAMES.get(group.name, group.name))


def may_moderate(user) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm(BLOCK_PERMISSION))


class ModeratorOnlyMixin:
    def dispatch(self, request, *args, **kwargs):
        if not may_moderate(request.user):
            return forbidden(request, _("Only managers may see the users."))
        return super().dispatch(request, *args, **kwargs)


class UserIndexView(ModeratorOnlyMixin, generic.IndexView):
    model = User
    permission_required = None
    any_permission_required = None
    page_title = _("Users")
    header_icon = "user"
    paginate_by = 50
    search_fields = ["email", "first_name", "last_name"]
    search_backend_name = None
    default_ordering = "email"
    index_url_name = "accounts_users:index"
    index_results_url_name = "accounts_users:index_results"

    @property
    def columns(self):
        moderator = self.request.user
        return [
            TitleColumn("email", label=_("E-mail address"), sort_key="email"),
            Column("name", label=_("Name"), accessor=lambda user: user.get_full_name()),
            Column(
                "groups",
                label=_("Groups"),
                accessor=lambda user: ", ".join(role_name(group) for group in user.groups.all()),
            ),
            BooleanColumn("is_active", label=_("Active")),
            Column("state", label=_("State"), accessor=state_of),
            DateColumn("date_joined", label=_("Joined"), sort_key="date_joined"),
            Column("action", label="", accessor=lambda user: action_link(moderator, user)),
        ]

    def get_base_queryset(self):
        return User.objects.prefetch_related("groups")


def state_of(user) -> str:
    if user.is_blocked:
        return _("blocked")
    if user.is_pending_confirmation:
        return _("waiting for confirmation")
    return ""


def action_link(moderator, user):
    from django.utils.html import format_html

    if user.is_superuser or user.pk == moderator.pk:
        return ""
    name, label = ("unblock", _("Unblock")) if user.is_blocked else ("block", _("Block"))
    return format_html(
        '<a class="button button-small button-secondary" href="{}">{}</a>',
        reverse(f"accounts_users:{name}", args=[user.pk]),
        label,
    )


class BlockView(ModeratorOnlyMixin, View):
    block = True

    def dispatch(self, request, *args, pk, **kwargs):
        self.target = get_object_or_404(User, pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        if self.block and (refusal := services.block_refusal(user=self.target, by=request.user)):
            return forbidden(request, refusal)
        return TemplateResponse(
            request,
            "accounts/confirm_block.html",
            {
                "target": self.target,
                # Not "block": inside {% block %} Django names the block being rendered so.
                "blocking": self.block,
                "page_title": _("Block user") if self.block else _("Unblock user"),
                "header_icon": "user",
                "cancel_url": reverse("accounts_users:index"),
            },
        )

    def post(self, request):
        try:
            if self.block:
                services.user_block(user=self.target, by=request.user)
                messages.success(request, _("%(email)s is blocked.") % {"email": self.target.email})
            else:
                services.user_unblock(user=self.target, by=request.user)
                messages.success(
                    request, _("%(email)s is unblocked.") % {"email": self.target.email}
                )
        except services.BlockRefusedError as refusal:
            return forbidden(request, str(refusal))
        return redirect("accounts_users:index")


class UnblockView(BlockView):
    block = False


class UsersMenuItem(MenuItem):
    def is_shown(self, request):
        return may_moderate(request.user)


class UserModerationViewSet(ViewSet):
    name = "accounts_users"
    url_prefix = "accounts/users"
    icon = "user"

    def get_urlpatterns(self):
        return [
            path("", UserIndexView.as_view(), name="index"),
            path("results/", UserIndexView.as_view(results_only=True), name="index_results"),
            path("<int:pk>/block/", BlockView.as_view(), name="block"),
            path("<int:pk>/unblock/", UnblockView.as_view(), name="unblock"),
        ]

    def get_menu_item(self, order=None):
        return UsersMenuItem(
            _("Users"),
            reverse("accounts_users:index"),
            name="accounts-users",
            icon_name="user",
            order=order or 900,
        )
