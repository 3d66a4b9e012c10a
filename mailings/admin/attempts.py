"""Attempts (the runs of mailings) in the admin: read-only, with each run's deliveries."""

from __future__ import annotations

import csv

import django_filters
from django.db.models import Case, Count, IntegerField, Value, When
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn, Table, TitleColumn
from wagtail.admin.widgets.button import HeaderButton

from mailings.admin import paging, scoped
from mailings.admin.actions import RetryFailedView, retryable_attempts
from mailings.admin.exports import Chunked, csv_safe, export_in_background, in_reader_settings
from mailings.admin.filters import visible_mailings, visible_owners
from mailings.models import Attempt, Delivery
from mailings.permissions import policy_for


class RunStatusColumn(StatusTagColumn):
    """The run's status and, while it is open, what is happening: sending, or waiting for
    the mail server until its next try."""

    cell_template_name = "mailings/tables/run_status_cell.html"

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["situation"] = instance.situation()
        return context


def counts_of(attempt) -> str:
    counts = f"{attempt.sent} / {attempt.failed} / {attempt.total}"
    if attempt.status == Attempt.Status.IN_PROGRESS:
        return f"{counts} ({attempt.progress_percent} %)"
    return counts


def attempt_result_columns(*, sortable: bool = False) -> list:
    """How a run went: the columns of the attempts listing and of a mailing's runs."""
    return [
        DateColumn(
            "attempted_at", label=_("Last try"), sort_key="attempted_at" if sortable else None
        ),
        RunStatusColumn(
            "get_status_display", label=_("Status"), sort_key="status" if sortable else None
        ),
        # One column for the counts and, while the run is open, how far it is: the runs'
        # listing fits a laptop's screen, the manager's Owner column included.
        Column("counts", label=_("Sent / failed / recipients"), accessor=counts_of),
        Column("server_response", label=_("Server response")),
    ]


class AttemptFilterSet(WagtailFilterSet):
    mailing = django_filters.ModelChoiceFilter(label=_("Mailing"), queryset=visible_mailings)
    owner = django_filters.ModelChoiceFilter(
        label=_("Owner"), field_name="mailing__owner", queryset=visible_owners
    )
    scheduled_for = django_filters.DateFromToRangeFilter(
        label=_("Slot"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Attempt
        fields = ["mailing", "owner", "status", "scheduled_for"]


class AttemptInspectView(scoped.InspectView):
    template_name = "mailings/attempts/inspect.html"

    @cached_property
    def header_buttons(self):
        attempt = self.object
        buttons = super().header_buttons
        may_retry = (
            attempt.status != Attempt.Status.IN_PROGRESS
            and attempt.failed
            and retryable_attempts(self.request.user).filter(pk=attempt.pk).exists()
        )
        if may_retry:
            buttons = [
                *buttons,
                HeaderButton(
                    _("Retry failed deliveries"),
                    url=reverse("mailings_attempts:retry_failed", args=[attempt.pk]),
                    icon_name="redirect",
                ),
            ]
        return buttons

    def deliveries(self):
        """The run's deliveries, failed first (what the owner opens this page for), of the
        status asked for (``?status=``: anything else is all of them)."""
        deliveries = self.object.deliveries.annotate(
            failed_first=Case(
                When(status=Delivery.Status.FAILED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        ).order_by("failed_first", "pk")
        status = self.request.GET.get("status", "")
        if status in Delivery.Status.values:
            deliveries = deliveries.filter(status=status)
        return deliveries, status if status in Delivery.Status.values else ""

    def get(self, request, *args, **kwargs):
        if request.GET.get("export") == "csv":
            self.object = self.get_object()
            deliveries, _status = self.deliveries()
            background = export_in_background(
                request, total=deliveries.count(), name=f"run-{self.object.pk}-deliveries"
            )
            return background or deliveries_csv(self.object, deliveries, request)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        deliveries, status = self.deliveries()
        shown = paging.listed(self.request, deliveries, search=("email",), per_page=50)
        export = self.request.GET.copy()
        export.pop("p", None)
        export["export"] = "csv"
        context.update(
            attempt=self.object,
            deliveries_count=self.object.deliveries.count(),
            # Why the skipped ones were not sent (unsubscribed, bounced, …), counted apart.
            skipped_by_reason=list(
                self.object.deliveries.filter(status=Delivery.Status.SKIPPED)
                .values_list("response")
                .annotate(n=Count("pk"))
                .order_by("-n", "response")
            ),
            deliveries_listed=shown,
            statuses=Delivery.Status.choices,
            status=status,
            export_url="?" + export.urlencode(),
            deliveries_table=Table(
                [
                    Column("email", label=_("E-mail address")),
                    StatusTagColumn("get_status_display", label=_("Status")),
                    Column("smtp_code", label=_("SMTP code")),
                    Column("response", label=_("Server reply")),
                    Column("get_bounce_display", label=_("Bounce")),
                    DateColumn("sent_at", label=_("Sent at")),
                    Column("tries", label=_("Tries")),
                ],
                shown.page.object_list,
            ),
        )
        return context


class Echo:
    """A file whose writes are returned, for a streamed CSV."""

    def write(self, value):
        return value


def deliveries_csv(attempt: Attempt, deliveries, request=None) -> StreamingHttpResponse:
    """Every delivery asked for, as CSV (no cell a spreadsheet runs: ``csv_safe``), read
    from the database in chunks."""
    writer = csv.writer(Echo())
    header = [_("E-mail address"), _("Status"), _("SMTP code"), _("Server reply")]
    header += [_("Sent at"), _("Tries")]
    labels = dict(Delivery.Status.choices)

    def rows():
        yield "\ufeff" + writer.writerow([str(label) for label in header])
        for delivery in Chunked(deliveries, request):
            yield writer.writerow(
                [
                    csv_safe(delivery.email),
                    str(labels.get(delivery.status, delivery.status)),
                    delivery.smtp_code if delivery.smtp_code is not None else "",
                    csv_safe(delivery.response),
                    delivery.sent_at.isoformat() if delivery.sent_at else "",
                    delivery.tries,
                ]
            )

    # Written after the view returned: in the reader's language and zone all the same.
    streamed = in_reader_settings(
        rows(), language=translation.get_language(), zone=timezone.get_current_timezone()
    )
    response = StreamingHttpResponse(streamed, content_type="text/csv; charset=utf-8")
    name = f"run-{attempt.pk}-deliveries.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class AttemptProgressView(View):
    """The run's progress as JSON, for its page to update itself while it runs (no reload):
    the same figures the page shows, from the row the policy lets this user see."""

    def dispatch(self, request, *args, pk, **kwargs):
        # Another user's run is a 404 whatever the method, before "method not allowed".
        allowed = policy_for(Attempt).instances_user_has_permission_for(request.user, "view")
        self.attempt = get_object_or_404(allowed, pk=pk)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        attempt = self.attempt
        return JsonResponse(
            {
                "finished": attempt.status != Attempt.Status.IN_PROGRESS,
                "status": attempt.get_status_display(),
                "situation": str(attempt.situation() or ""),
                "percent": attempt.progress_percent,
                "counts": " / ".join(
                    str(n) for n in (attempt.sent, attempt.failed, attempt.skipped, attempt.total)
                ),
                "server_response": attempt.server_response or "—",
            }
        )


class AttemptIndexView(scoped.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().select_related("mailing__message", "mailing__owner")


class AttemptViewSet(scoped.ReadOnlyModelViewSet):
    model = Attempt
    icon = "history"
    menu_label = _("Attempts")
    url_prefix = "mailings/attempts"
    url_namespace = "mailings_attempts"
    index_view_class = AttemptIndexView
    inspect_view_class = AttemptInspectView
    list_display = [
        TitleColumn(
            "mailing", label=_("Mailing"), sort_key="mailing", url_name="mailings_attempts:inspect"
        ),
        DateColumn("scheduled_for", label=_("Slot"), sort_key="scheduled_for"),
        *attempt_result_columns(sortable=True),
    ]
    list_export = [
        "mailing",
        "scheduled_for",
        "attempted_at",
        "get_status_display",
        "sent",
        "failed",
        "total",
        "server_response",
    ]
    export_headings = {"get_status_display": _("Status")}
    export_filename = "attempts"
    filterset_class = AttemptFilterSet
    ordering = ["-scheduled_for"]
    list_per_page = 50

    def get_urlpatterns(self):
        # Runs are made by the scheduler, never by hand: no add, edit or delete.
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("retry-failed/<int:pk>/", RetryFailedView.as_view(), name="retry_failed"),
            path("progress/<int:pk>/", AttemptProgressView.as_view(), name="progress"),
        ]
