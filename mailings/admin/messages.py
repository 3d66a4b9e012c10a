"""Messages in the admin: listing, add / edit / delete, a preview for a sample client, and
"send a test to me" through the configured mail server."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages as flash
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.widgets.button import HeaderButton

from mailings import composing, services, unsubscribe
from mailings.admin import scoped
from mailings.admin.forms import MessageForm
from mailings.blocks import mailable_posts
from mailings.models import Attempt, Client, Message
from mailings.permissions import policy_for


def framed(html: str) -> str:
    """A mail's HTML for a sandboxed frame of the admin: its links open in a new tab."""
    return html.replace("<head>", '<head><base target="_blank">', 1)


def preview_url(message: Message) -> str:
    return reverse("mailings_messages:preview", args=[message.pk])


def send_test_url(message: Message) -> str:
    return reverse("mailings_messages:send_test", args=[message.pk])


class MessageIndexView(scoped.IndexView):
    def get_list_more_buttons(self, instance):
        return [
            *super().get_list_more_buttons(instance),
            MenuItem(_("Preview"), url=preview_url(instance), icon_name="view", priority=15),
        ]


class MessageEditView(scoped.EditView):
    def get(self, request, *args, **kwargs):
        self.object = self.get_object()  # through the policy: another user's is a 404
        running = Attempt.objects.filter(
            mailing__message=self.object, status=Attempt.Status.IN_PROGRESS
        )
        if running.exists():
            flash.warning(
                request,
                _(
                    "A mailing with this message is being sent: that run keeps the version "
                    "it started with. Your changes apply from the next run."
                ),
            )
        return super().get(request, *args, **kwargs)

    @cached_property
    def header_buttons(self):
        # In sight beside the title, not in the "…" menu: the first thing one checks.
        return [
            *super().header_buttons,
            HeaderButton(_("Preview"), url=preview_url(self.object), icon_name="view"),
        ]


class OwnMessageMixin:
    """Loads the message before anything else: another user's id is a 404 for any method."""

    def dispatch(self, request, *args, pk, **kwargs):
        allowed = policy_for(Message).instances_user_has_permission_for(request.user, "change")
        self.message = get_object_or_404(allowed, pk=pk)
        return super().dispatch(request, *args, **kwargs)


PREVIEW_CHOICES = 50  # clients offered at once in the preview's "as" list


def chosen_client(request, message: Message, raw: str | None):
    """The owner's subscribed client whose id is ``raw``, or None (garbage, another's)."""
    # str.isdigit() is true for "²" too, which int() refuses: ASCII digits only.
    if not (raw and raw.isascii() and raw.isdigit() and len(raw) <= 18):
        return None
    return recipients_of(message).filter(pk=int(raw)).first()


def recipients_of(message: Message):
    return (
        policy_for(Client)
        .instances_owned_by(message.owner)
        .filter(unsubscribed_at__isnull=True)
        .order_by("full_name", "email", "pk")
    )


class MessagePreviewView(OwnMessageMixin, View):
    """The message as a client would get it: a client the owner picks (searched by name or
    address), else their first, else a sample. "Send a test to me" sends this same version."""

    def get(self, request):
        message = self.message
        query = request.GET.get("q", "").strip()[:100]
        choices = recipients_of(message)
        if query:
            choices = choices.filter(Q(full_name__icontains=query) | Q(email__icontains=query))
        choices = list(choices[:PREVIEW_CHOICES])
        client = chosen_client(request, message, request.GET.get("client"))
        client = client or (choices[0] if choices else None)
        if client is None and not query:
            client = recipients_of(message).first()
        name, email = (
            (client.full_name, client.email)
            if client
            else (composing.SAMPLE_NAME, composing.SAMPLE_EMAIL)
        )
        rendered = composing.render(
            subject=message.subject,
            body=message.text,
            html=message.html,
            values=composing.recipient_values(
                full_name=name, email=email, unsubscribe_url=unsubscribe.example_url()
            ),
        )
        if client is not None and client not in choices:
            choices.insert(0, client)
        return TemplateResponse(
            request,
            "mailings/messages/preview.html",
            {
                "message": message,
                "rendered": rendered,
                "framed_html": framed(rendered.html),
                "recipient": f"{name} <{email}>",
                "client": client,
                "choices": choices,
                "query": query,
                "no_match": bool(query) and not choices,
                "is_sample": client is None,
                "page_title": _("Preview"),
                "page_subtitle": message.subject,
                "header_icon": "view",
                "edit_url": reverse("mailings_messages:edit", args=[message.pk]),
                "send_test_url": send_test_url(message),
                "last_test": services.message_last_test(message=message, by=request.user),
                "from_email": settings.DEFAULT_FROM_EMAIL,
            },
        )


class MessageSendTestView(OwnMessageMixin, View):
    """A worker sends the test; the preview page says how it went (``last_test``)."""

    def post(self, request):
        message = self.message
        client = chosen_client(request, message, request.POST.get("client"))
        if services.message_send_test(message=message, by=request.user, client=client):
            flash.success(
                request,
                _(
                    "A test to %(email)s is queued and goes out in a moment. Reload this "
                    "page to see whether the mail server took it."
                )
                % {"email": request.user.email},
            )
        else:
            flash.error(
                request,
                _(
                    "The test could not be queued: the background service is not "
                    "reachable. Nothing was sent; try again in a few minutes."
                ),
            )
        return redirect(preview_url(message) + (f"?client={client.pk}" if client else ""))


class MessageViewSet(scoped.ScopedModelViewSet):
    model = Message
    icon = "mail"
    menu_label = _("Messages")
    url_prefix = "mailings/messages"
    url_namespace = "mailings_messages"
    index_view_class = MessageIndexView
    edit_view_class = MessageEditView
    list_display = [
        "subject",
        Column("text", label=_("Text")),
        DateColumn("updated_at", label=_("Updated"), sort_key="updated_at", classname="updated"),
    ]
    list_export = ["subject", "text", "created_at", "updated_at"]
    export_filename = "messages"
    search_fields = ["subject", "text"]
    search_backend_name = None
    ordering = ["-updated_at"]
    list_per_page = 50
    edit_handler = ObjectList(
        [FieldPanel("subject"), FieldPanel("content"), FieldPanel("body")],
        base_form_class=MessageForm,
    )
    inspect_view_fields = ["subject", "text", "created_at", "updated_at"]

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("preview/<int:pk>/", MessagePreviewView.as_view(), name="preview"),
            path("send-test/<int:pk>/", MessageSendTestView.as_view(), name="send_test"),
            path("from-post/<int:page_id>/", MessageFromPostView.as_view(), name="from_post"),
        ]


class MessageFromPostView(View):
    """ "Mail this post" (the page editor's and the page listing's menus): asks, then (POST)
    creates the user's message of that post and opens it for editing."""

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        if not policy_for(Message).user_has_permission(request.user, "add"):
            raise Http404
        self.post_page = get_object_or_404(mailable_posts(), pk=kwargs["page_id"])

    def get(self, request, page_id):
        return TemplateResponse(
            request,
            "mailings/messages/from_post.html",
            {
                "post": self.post_page,
                "page_title": _("Mail this post"),
                "page_subtitle": self.post_page.title,
                "header_icon": "mail",
            },
        )

    def post(self, request, page_id):
        message = services.message_from_post(post=self.post_page, by=request.user)
        flash.success(
            request,
            _("A message of “%(post)s” is ready: add words of your own, then preview it.")
            % {"post": self.post_page.title},
        )
        return redirect("mailings_messages:edit", message.pk)
