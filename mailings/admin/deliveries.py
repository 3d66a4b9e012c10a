"""The failed deliveries report: who did not get a mail, and what the server said."""

from __future__ import annotations

import django_filters
from django.urls import path
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, TitleColumn

from mailings.admin import scoped
from mailings.admin.filters import visible_mailings, visible_owners
from mailings.models import Delivery


class FailedDeliveryFilterSet(WagtailFilterSet):
    mailing = django_filters.ModelChoiceFilter(
        label=_("Mailing"), field_name="attempt__mailing", queryset=visible_mailings
    )
    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"), field_name="attempt__mailing__owner", queryset=visible_owners
    )
    date = django_filters.DateFromToRangeFilter(
        label=_("Date"), field_name="attempt__scheduled_for", widget=DateRangePickerWidget
    )

    class Meta:
        model = Delivery
        fields = ["mailing", "owner", "date"]


class FailedDeliveryIndexView(scoped.IndexView):
    page_title = _("Failed deliveries")

    def get_base_queryset(self):
        return (
            super()
            .get_base_queryset()
            .filter(status=Delivery.Status.FAILED)
            .select_related("attempt__mailing__message", "attempt__mailing__owner")
        )


class FailedDeliveryViewSet(scoped.ReadOnlyModelViewSet):
    model = Delivery
    icon = "warning"
    menu_label = _("Failed deliveries")
    url_prefix = "mailings/failed-deliveries"
    url_namespace = "mailings_failed_deliveries"
    index_view_class = FailedDeliveryIndexView
    list_display = [
        TitleColumn(
            "email",
            label=_("Recipient"),
            sort_key="email",
            url_name="mailings_attempts:inspect",
            id_accessor="attempt_id",
        ),
        Column("attempt.mailing", label=_("Mailing")),
        DateColumn("attempt.scheduled_for", label=_("Time"), sort_key="attempt__scheduled_for"),
        Column("smtp_code", label=_("SMTP code"), sort_key="smtp_code"),
        Column("response", label=_("Server reply")),
    ]
    list_export = ["email", "attempt.mailing", "attempt.scheduled_for", "smtp_code", "response"]
    export_headings = {
        "email": _("Recipient"),
        "attempt.mailing": _("Mailing"),
        "attempt.scheduled_for": _("Time"),
        "smtp_code": _("SMTP code"),
        "response": _("Server reply"),
    }
    export_filename = "failed-deliveries"
    filterset_class = FailedDeliveryFilterSet
    ordering = ["-attempt__scheduled_for", "pk"]
    list_per_page = 50

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
        ]
