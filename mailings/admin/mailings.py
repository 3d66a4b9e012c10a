"""Mailings in the admin. Users manage their own; moderators (Managers) see everyone's,
read-only. The inspect page shows the message, the clients, the schedule and the runs."""

from __future__ import annotations

import django_filters
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList
from wagtail.admin.ui.tables import (
    BooleanColumn,
    Column,
    DateColumn,
    StatusTagColumn,
    Table,
    TitleColumn,
)

from mailings.admin import scoped
from mailings.admin.forms import MailingForm
from mailings.admin.widgets import ClientPicker
from mailings.models import Mailing

INSPECT_ROWS = 200


class MailingFilterSet(WagtailFilterSet):
    start_at = django_filters.DateFromToRangeFilter(label=_("Start"), widget=DateRangePickerWidget)

    class Meta:
        model = Mailing
        fields = ["status", "periodicity", "is_enabled", "start_at"]


class MailingInspectView(scoped.InspectView):
    template_name = "mailings/mailings/inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mailing = self.object
        clients = mailing.clients.order_by("full_name", "email")
        attempts = mailing.attempts.order_by("-scheduled_for")
        context.update(
            mailing=mailing,
            clients_count=clients.count(),
            clients_table=Table(
                [
                    Column("full_name", label=_("Full name")),
                    Column("email", label=_("E-mail address")),
                    BooleanColumn("is_subscribed", label=_("Subscribed")),
                ],
                clients[:INSPECT_ROWS],
            ),
            attempts_count=attempts.count(),
            attempts_table=Table(
                [
                    TitleColumn(
                        "scheduled_for", label=_("Slot"), url_name="mailings_attempts:inspect"
                    ),
                    DateColumn("attempted_at", label=_("Last try")),
                    StatusTagColumn("get_status_display", label=_("Status")),
                    Column("sent", label=_("Sent")),
                    Column("failed", label=_("Failed")),
                    Column("total", label=_("Recipients")),
                    Column("server_response", label=_("Server response")),
                ],
                attempts[:INSPECT_ROWS],
            ),
            inspect_rows=INSPECT_ROWS,
            message_url=reverse("mailings_messages:edit", args=[mailing.message_id])
            if self.request.user.has_perm("mailings.change_message")
            and mailing.owner_id == self.request.user.pk
            else None,
        )
        return context


class MailingViewSet(scoped.ScopedModelViewSet):
    model = Mailing
    icon = "calendar-alt"
    menu_label = _("Mailings")
    url_prefix = "mailings/mailings"
    url_namespace = "mailings_mailings"
    inspect_view_class = MailingInspectView
    list_display = [
        "__str__",
        StatusTagColumn("get_status_display", label=_("Status"), sort_key="status"),
        Column("get_periodicity_display", label=_("Periodicity"), sort_key="periodicity"),
        BooleanColumn("is_enabled", label=_("Enabled")),
        DateColumn("start_at", label=_("Start")),
        DateColumn("end_at", label=_("End")),
        DateColumn("next_run_at", label=_("Next run")),
    ]
    list_export = [
        "message.subject",
        "status",
        "periodicity",
        "is_enabled",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    export_headings = {"message.subject": _("Subject")}
    export_filename = "mailings"
    search_fields = ["message__subject"]
    search_backend_name = None
    filterset_class = MailingFilterSet
    ordering = ["-created_at"]
    list_per_page = 50
    edit_handler = ObjectList(
        [
            FieldPanel("message"),
            FieldPanel("clients", widget=ClientPicker(search_url_name="mailings_clients:search")),
            FieldRowPanel([FieldPanel("start_at"), FieldPanel("end_at")]),
            FieldPanel("periodicity"),
            FieldPanel("is_enabled"),
        ],
        base_form_class=MailingForm,
    )
