"""Senders in the admin: a user's own From addresses. Adding one (or changing its address)
mails a confirmation link to it; until it is followed, the sender cannot be chosen for a
mailing. "Send the link again" from its menu."""

from __future__ import annotations

from django.contrib import messages as flash
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import Column

from mailings import services
from mailings.admin import scoped
from mailings.admin.forms import SenderForm
from mailings.models import Sender
from mailings.permissions import policy_for


def link_sent_message(request, sender: Sender, queued: bool) -> None:
    if queued:
        flash.success(
            request,
            _(
                "A confirmation link is on its way to %(email)s. The sender can be chosen "
                "for mailings once the link is followed."
            )
            % {"email": sender.email},
        )
    else:
        flash.error(
            request,
            _(
                "The confirmation link could not be queued: the background service is not "
                "reachable. Send it again from the sender's menu in a few minutes."
            ),
        )


class SaveMixin:
    """Mails the link after a new sender or a new address is saved."""

    def save_instance(self):
        changed = self.form.address_changed
        instance = super().save_instance()
        queued = services.sender_save(
            sender=instance, by=self.request.user, address_changed=changed
        )
        if changed:
            link_sent_message(self.request, instance, queued)
        return instance


class SenderCreateView(SaveMixin, scoped.CreateView):
    pass


class SenderEditView(SaveMixin, scoped.EditView):
    pass


class SenderIndexView(scoped.IndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if instance.confirmed_at is None:
            url = reverse("mailings_senders:send_link", args=[instance.pk])
            buttons = [
                *buttons,
                MenuItem(_("Send the link again"), url=url, icon_name="mail", priority=15),
            ]
        return buttons


class SendLinkView(View):
    """Asks, then (POST) mails the confirmation link again."""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        allowed = policy_for(Sender).instances_user_has_permission_for(request.user, "change")
        self.sender = policy_for(Sender).instance_for(request.user, kwargs["pk"], allowed=allowed)

    def get(self, request, pk):
        return TemplateResponse(
            request,
            "mailings/senders/send_link.html",
            {
                "sender": self.sender,
                "page_title": _("Send the link again"),
                "page_subtitle": str(self.sender),
                "header_icon": "mail",
            },
        )

    def post(self, request, pk):
        if self.sender.confirmed_at is None:
            queued = services.sender_send_link(sender=self.sender)
            link_sent_message(request, self.sender, queued)
        return redirect("mailings_senders:index")


class SenderStatusColumn(Column):
    def get_value(self, instance):
        return _("Confirmed") if instance.confirmed_at else _("Waiting for confirmation")


class SenderViewSet(scoped.ScopedModelViewSet):
    model = Sender
    icon = "user"
    menu_label = _("Senders")
    url_prefix = "mailings/senders"
    url_namespace = "mailings_senders"
    index_view_class = SenderIndexView
    add_view_class = SenderCreateView
    edit_view_class = SenderEditView
    list_display = [
        "name",
        "email",
        Column("reply_to", label=_("Reply-to")),
        SenderStatusColumn("confirmed_at", label=_("Status")),
    ]
    search_fields = ["name", "email"]
    search_backend_name = None
    ordering = ["name", "email"]
    list_per_page = 50
    inspect_view_enabled = False
    edit_handler = ObjectList(
        [FieldPanel("name"), FieldPanel("email"), FieldPanel("reply_to")],
        base_form_class=SenderForm,
    )

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("send-link/<int:pk>/", SendLinkView.as_view(), name="send_link"),
        ]
