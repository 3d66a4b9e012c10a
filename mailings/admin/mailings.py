"""Mailings in the admin. Users manage their own; moderators (Managers) see everyone's,
read-only. The inspect page shows the message, the clients, the schedule and the runs."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Count
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
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

from mailings import composing, senders, services
from mailings.admin import paging, scoped
from mailings.admin.actions import DisableView, EnableView, SendNowView
from mailings.admin.attempts import attempt_result_columns
from mailings.admin.filters import visible_owners
from mailings.admin.forms import TIME_ZONES, MailingForm
from mailings.admin.messages import framed
from mailings.admin.widgets import ClientPicker
from mailings.dashboard import runs_chart
from mailings.models import Attempt, ClientList, Mailing, Message
from mailings.permissions import policy_for
from mailings.placeholders import PLACEHOLDERS
from mailings.reporting import with_stats

INSPECT_ROWS = 200
CHART_RUNS = 30  # the runs a mailing's chart shows, its last


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
    if mailing.is_enabled and policy.permits(user, ["disable"], mailing):
        buttons.append(
            make(
                _("Disable"),
                url=reverse("mailings_mailings:disable", args=[mailing.pk]),
                icon_name="cross",
            )
        )
    elif not mailing.is_enabled and policy.may_enable(user, mailing):
        buttons.append(
            make(
                _("Enable"),
                url=reverse("mailings_mailings:enable", args=[mailing.pk]),
                icon_name="tick",
            )
        )
    return buttons


def switch_state(mailing) -> str:
    """Why nothing is sent although the schedule says so ('' when it is): off, off by a
    moderator's hand (which its owner cannot undo: they see why), or a blocked owner."""
    if not mailing.owner.is_active:
        return _("Owner blocked")
    if mailing.is_enabled:
        return ""
    if mailing.disabled_by_moderator:
        return _("Disabled by a moderator")
    return pgettext_lazy("mailing", "Disabled")


def status_label(mailing, last_run_status: str | None) -> str:
    """The schedule's status, except that a mailing whose last run is still going out (or
    waiting to retry) is running, not finished, whatever its schedule has left."""
    if mailing.status == Mailing.Status.FINISHED and last_run_status == Attempt.Status.IN_PROGRESS:
        return Mailing.Status.RUNNING.label
    return mailing.get_status_display()


class MailingStatusColumn(StatusTagColumn):
    """The status and, under it, why nothing is sent, if nothing is."""

    cell_template_name = "mailings/tables/mailing_status_cell.html"

    def get_value(self, instance):
        return status_label(instance, getattr(instance, "last_run_status", None))

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["stopped"] = switch_state(instance)
        return context


def results_of(mailing) -> str:
    """Sent, failed and the success rate in one cell: the listing fits a laptop's width."""
    if not mailing.sent_total and not mailing.failed_total:
        return "—"
    rate = formats.number_format(mailing.success_rate, 1)
    return f"{mailing.sent_total} / {mailing.failed_total} ({rate} %)"


class ZonedDateColumn(Column):
    """A moment on the mailing's own clock (the zone is named under the window's dates)."""

    cell_template_name = "mailings/tables/zoned_date_cell.html"


class WindowColumn(Column):
    """The days a mailing sends between, on its own clock, named under them (the hours are
    on its page)."""

    cell_template_name = "mailings/tables/window_cell.html"


class MailingIndexView(scoped.IndexView):
    def get_base_queryset(self):
        return with_stats(super().get_base_queryset()).select_related("message", "owner")

    def get_list_more_buttons(self, instance):
        return [
            *super().get_list_more_buttons(instance),
            *action_buttons(self.request.user, instance, menu=True),
        ]

    @cached_property
    def columns(self):
        # Eleven columns: the mailing's name keeps room to be read, not a word per line
        # (static/mailings/css/admin.css).
        columns = super().columns
        columns[0].classname = "mailings-name"
        return columns


class MailingCreateView(scoped.CreateView):
    def get_initial_form_instance(self):
        # A new mailing keeps its hour in its owner's time zone (their account setting,
        # which Wagtail makes the request's current zone).
        # Its IANA name: Django's get_current_timezone_name() gives "-12" for Etc/GMT+12.
        mailing = super().get_initial_form_instance()
        zone = getattr(timezone.get_current_timezone(), "key", None)
        mailing.time_zone = zone if zone in TIME_ZONES else mailing.time_zone
        return mailing

    def save_instance(self):
        mailing = super().save_instance()
        services.mailing_save(mailing=mailing)
        return mailing


class MailingEditView(scoped.EditView):
    def get_form(self, *args, **kwargs):
        form = super().get_form(*args, **kwargs)
        # The "enabled" box is the same switch as the Enable action, with the same rule.
        mailing = self.object
        if not mailing.is_enabled and not policy_for(Mailing).may_enable(
            self.request.user, mailing
        ):
            field = form.fields["is_enabled"]
            field.disabled = True
            field.help_text = _("Disabled by a moderator: only a moderator can enable it.")
        return form

    def save_instance(self):
        was_enabled = Mailing.objects.values_list("is_enabled", flat=True).get(pk=self.object.pk)
        mailing = super().save_instance()
        if mailing.is_enabled != was_enabled:
            services.mailing_set_enabled(
                mailing=mailing, enabled=mailing.is_enabled, by=self.request.user
            )
        services.mailing_save(mailing=mailing)
        return mailing


def shown_message(mailing: Mailing) -> dict:
    """The message as its runs send it, placeholders shown as written (a moderator reads it
    too), and whom it comes from."""
    message, sender = mailing.message, mailing.sender
    as_written = {name: "{" + name + "}" for name in PLACEHOLDERS}
    shown = composing.render(
        subject=message.subject, body=message.text, html=message.html, values=as_written
    )
    confirmed = sender is not None and sender.confirmed_at is not None
    return {
        "message_html": framed(shown.html),
        "message_text": shown.body,
        "from_label": str(sender) if confirmed else senders.default_from(mailing.owner),
        "sender_waiting": sender is not None and not confirmed,
    }


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
        context["stats"] = stats = with_stats(
            Mailing.objects.filter(pk=mailing.pk), recipients=True
        ).get()
        context["status_label"] = status_label(mailing, stats.last_run_status)
        if stats.last_run_status:  # its label, in the reader's language
            stats.last_run_status = Attempt.Status(stats.last_run_status).label
        clients = mailing.clients.order_by("full_name", "email", "pk")
        attempts = mailing.attempts.order_by("-scheduled_for")
        chosen = paging.listed(self.request, clients, search=("full_name", "email"))
        context.update(
            mailing=mailing,
            lists=[
                (item, policy_for(ClientList).permits(self.request.user, ["view"], item))
                for item in mailing.lists.annotate(clients_count=Count("memberships"))
            ],
            # Unsearched, the list's own count is every chosen client: not counted twice.
            clients_count=mailing.clients.count() if chosen.query else chosen.matched,
            clients_listed=chosen,
            clients_table=Table(
                [
                    Column("full_name", label=_("Full name")),
                    Column("email", label=_("E-mail address")),
                    BooleanColumn("is_subscribed", label=_("Subscribed")),
                ],
                chosen.page.object_list,
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
            runs_chart=runs_chart(attempts[:CHART_RUNS], mailing.zone),
            inspect_rows=INSPECT_ROWS,
            **shown_message(mailing),
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
        MailingStatusColumn("get_status_display", label=_("Status"), sort_key="status"),
        Column("get_periodicity_display", label=_("Periodicity"), sort_key="periodicity"),
        WindowColumn("start_at", label=_("From – to"), sort_key="start_at"),
        ZonedDateColumn("next_run_at", label=_("Next run"), sort_key="next_run_at"),
        Column("runs", label=_("Runs"), sort_key="runs"),
        Column("results", label=_("Sent / failed"), accessor=results_of),
    ]
    list_export = [
        "name",
        "message.subject",
        "get_status_display",
        "get_periodicity_display",
        "is_enabled",
        "time_zone",
        "start_at",
        "end_at",
        "next_run_at",
    ]
    # Labels in the reader's language, not the stored codes ("running", "daily").
    export_headings = {
        "message.subject": _("Subject"),
        "get_status_display": _("Status"),
        "get_periodicity_display": _("Periodicity"),
    }
    export_filename = "mailings"
    search_fields = ["name", "message__subject"]
    search_backend_name = None
    filterset_class = MailingFilterSet
    ordering = ["-created_at"]
    list_per_page = 50
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldPanel("message"),
            FieldPanel("sender"),
            FieldPanel("lists", widget=forms.CheckboxSelectMultiple),
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
