"""Mailings in the admin. Users manage their own; moderators (Managers) see everyone's,
read-only. The inspect page shows the message, the clients, the schedule and the runs."""

from __future__ import annotations

import django_filters
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import (
    BooleanColumn,
    Column,
    StatusTagColumn,
    Table,
    TitleColumn,
)
from wagtail.admin.widgets import AdminDateTimeInput
from wagtail.admin.widgets.button import HeaderButton

from mailings import services
from mailings.admin import scoped
from mailings.admin.actions import DisableView, EnableView, SendNowView
from mailings.admin.attempts import attempt_result_columns
from mailings.admin.filters import visible_owners
from mailings.admin.forms import MailingForm
from mailings.admin.widgets import ClientPicker
from mailings.models import Mailing, Message
from mailings.permissions import policy_for
from mailings.reporting import with_stats

INSPECT_ROWS = 200


class MailingFilterSet(WagtailFilterSet):
    start_at = django_filters.DateFromToRangeFilter(label=_("Start"), widget=DateRangePickerWidget)
    owner = django_filters.ModelChoiceFilter(label=_("Owner"), queryset=visible_owners)

    class Meta:
        model = Mailing
        fields = ["status", "periodicity", "is_enabled", "start_at", "owner"]


def action_buttons(user, mailing, *, menu: bool):
    """Send now / Disable / Enable, for whoever may do them to this mailing."""
    policy = policy_for(Mailing)
    make = MenuItem if menu else HeaderButton
    buttons = []
    if policy.permits(user, ["change"], mailing):
        buttons.append(
            make(
                _("Send now"),
                url=reverse("mailings_mailings:send_now", args=[mailing.pk]),
                icon_name="mail",
            )
        )
    if policy.permits(user, ["disable"], mailing):
        name, label = ("disable", _("Disable")) if mailing.is_enabled else ("enable", _("Enable"))
        buttons.append(
            make(
                label,
                url=reverse(f"mailings_mailings:{name}", args=[mailing.pk]),
                icon_name="cross" if mailing.is_enabled else "tick",
            )
        )
    return buttons


class ZonedDateColumn(Column):
    """A moment on the mailing's own clock (its zone is a column of its own)."""

    cell_template_name = "mailings/tables/zoned_date_cell.html"


class MailingIndexView(scoped.IndexView):
    def get_base_queryset(self):
        return with_stats(super().get_base_queryset()).select_related("message")

    def get_list_more_buttons(self, instance):
        return [
            *super().get_list_more_buttons(instance),
            *action_buttons(self.request.user, instance, menu=True),
        ]


class MailingCreateView(scoped.CreateView):
    def get_initial_form_instance(self):
        # A new mailing keeps its hour in its owner's time zone (their account setting,
        # which Wagtail makes the request's current zone).
        mailing = super().get_initial_form_instance()
        mailing.time_zone = timezone.get_current_timezone_name()
        return mailing

    def save_instance(self):
        mailing = super().save_instance()
        services.mailing_save(mailing=mailing)
        return mailing


class MailingEditView(scoped.EditView):
    def save_instance(self):
        mailing = super().save_instance()
        services.mailing_save(mailing=mailing)
        return mailing


class MailingInspectView(scoped.InspectView):
    template_name = "mailings/mailings/inspect.html"

    @cached_property
    def header_buttons(self):
        return [
            *super().header_buttons,
            *action_buttons(self.request.user, self.object, menu=False),
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mailing = self.object
        context["stats"] = with_stats(Mailing.objects.filter(pk=mailing.pk)).get()
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
                    *attempt_result_columns(),
                ],
                attempts[:INSPECT_ROWS],
            ),
            inspect_rows=INSPECT_ROWS,
            message_url=reverse("mailings_messages:edit", args=[mailing.message_id])
            if policy_for(Message).permits(self.request.user, ["change"], mailing.message)
            else None,
        )
        return context


class MailingViewSet(scoped.ScopedModelViewSet):
    model = Mailing
    icon = "calendar-alt"
    menu_label = _("Mailings")
    url_prefix = "mailings/mailings"
    url_namespace = "mailings_mailings"
    index_view_class = MailingIndexView
    add_view_class = MailingCreateView
    edit_view_class = MailingEditView
    inspect_view_class = MailingInspectView
    list_display = [
        "__str__",
        StatusTagColumn("get_status_display", label=_("Status"), sort_key="status"),
        Column("get_periodicity_display", label=_("Periodicity"), sort_key="periodicity"),
        BooleanColumn("is_enabled", label=_("Enabled")),
        ZonedDateColumn("start_at", label=_("Start"), sort_key="start_at"),
        ZonedDateColumn("end_at", label=_("End"), sort_key="end_at"),
        ZonedDateColumn("next_run_at", label=_("Next run"), sort_key="next_run_at"),
        Column("time_zone", label=_("Time zone")),
        Column("runs", label=_("Runs"), sort_key="runs"),
        Column("sent_total", label=_("Sent")),
        Column("failed_total", label=_("Failed")),
        Column("success_rate", label=_("Success %")),
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
            FieldRowPanel(
                [
                    FieldPanel("start_at", widget=AdminDateTimeInput()),
                    FieldPanel("end_at", widget=AdminDateTimeInput()),
                ]
            ),
            FieldPanel("time_zone"),
            FieldPanel("periodicity"),
            FieldPanel("is_enabled"),
        ],
        base_form_class=MailingForm,
    )

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("send-now/<int:pk>/", SendNowView.as_view(), name="send_now"),
            path("disable/<int:pk>/", DisableView.as_view(), name="disable"),
            path("enable/<int:pk>/", EnableView.as_view(), name="enable"),
        ]
