"""Imports and exports in the admin: a user's recent jobs, each job's page (progress that
follows the worker without a reload, the import's report, the export's download), the
review of an import that changes stored clients. (A big export is handed to a worker by
``exports.export_in_background``.)"""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.formats import number_format
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views import View
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn, TitleColumn

from mailings import jobs, services
from mailings.admin import scoped
from mailings.admin.exports import XLSX_TYPE
from mailings.models import Job
from mailings.permissions import policy_for

RECENT = 10  # imports listed on the import page


def counts_of(job: Job) -> str:
    """What the job has done so far, in words, for its page and the listing."""
    if job.kind == Job.Kind.EXPORT:
        return ngettext(
            "%(rows)s of %(total)s row written", "%(rows)s of %(total)s rows written", job.total
        ) % {
            "rows": number_format(job.rows, force_grouping=True),
            "total": number_format(job.total, force_grouping=True),
        }
    if job.state not in (Job.State.DONE, Job.State.REVIEW):
        return ngettext(
            "%(rows)s row read, %(invalid)s invalid",
            "%(rows)s rows read, %(invalid)s invalid",
            job.rows,
        ) % {
            "rows": number_format(job.rows, force_grouping=True),
            "invalid": number_format(job.invalid, force_grouping=True),
        }
    return gettext(
        "%(created)s created, %(updated)s updated, %(merged)s merged, %(invalid)s invalid"
    ) % {
        name: number_format(getattr(job, name), force_grouping=True)
        for name in ("created", "updated", "merged", "invalid")
    }


def situation_of(job: Job) -> str:
    if job.state == Job.State.RUNNING and job.kind == Job.Kind.IMPORT and job.percent >= 90:
        return gettext("merging into your clients")
    if job.state == Job.State.QUEUED and job.tries:
        return gettext("starting again after the worker stopped")
    return ""


class FileNameColumn(TitleColumn):
    """The file's name, linked to its job, marked as a name rather than words to translate."""

    cell_template_name = "mailings/tables/file_name_cell.html"


def visible_jobs(user):
    return policy_for(Job).instances_user_has_permission_for(user, "view")


def recent_imports(user):
    return policy_for(Job).instances_owned_by(user).filter(kind=Job.Kind.IMPORT)[:RECENT]


class JobInspectView(scoped.InspectView):
    template_name = "mailings/jobs/inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        job = self.object
        context.update(
            job=job,
            counts=counts_of(job),
            situation=situation_of(job),
            report=job.report,
            import_url=reverse("mailings_clients:import"),
        )
        return context


class JobView(View):
    """A view of one job: another user's job is a 404 whatever the method, before "method
    not allowed"."""

    def dispatch(self, request, *args, pk, **kwargs):
        self.job = get_object_or_404(visible_jobs(request.user), pk=pk)
        return super().dispatch(request, *args, **kwargs)


class JobProgressView(JobView):
    """A job's progress as JSON, for its page to follow the worker (live-progress.js)."""

    def get(self, request):
        job = self.job
        return JsonResponse(
            {
                "finished": job.finished,
                "status": job.get_state_display(),
                "situation": situation_of(job),
                "percent": job.percent,
                "counts": counts_of(job),
                "server_response": job.error or "—",
            }
        )


class JobDownloadView(JobView):
    """An export's file, to its owner, while it is kept."""

    def get(self, request):
        job = self.job
        path = jobs.file_of(job)
        if job.kind != Job.Kind.EXPORT or job.state != Job.State.DONE or path is None:
            raise Http404
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        content_type = (
            XLSX_TYPE if job.params.get("format") == "xlsx" else "text/csv; charset=utf-8"
        )
        return FileResponse(file, as_attachment=True, filename=job.name, content_type=content_type)


class JobApplyView(JobView):
    """POST: run an import its owner has reviewed, for real."""

    def post(self, request):
        job = self.job
        if job.kind != Job.Kind.IMPORT or job.state != Job.State.REVIEW:
            messages.error(request, gettext("That import is no longer waiting for review."))
            return redirect("mailings_jobs:inspect", job.pk)
        try:
            services.import_apply(job=job)
        except services.ImportBusyError:
            messages.error(request, busy_message())
        return redirect("mailings_jobs:inspect", job.pk)


def busy_message() -> str:
    return gettext(
        "Another import of yours is still running: this one can start when it has finished."
    )


class JobViewSet(scoped.ReadOnlyModelViewSet):
    model = Job
    icon = "download"
    menu_label = _("Imports and exports")
    url_prefix = "mailings/jobs"
    url_namespace = "mailings_jobs"
    inspect_view_class = JobInspectView
    list_display = [
        FileNameColumn("name", label=_("File"), url_name="mailings_jobs:inspect"),
        Column("get_kind_display", label=_("Kind"), sort_key="kind"),
        StatusTagColumn(
            "get_state_display",
            label=_("State"),
            sort_key="state",
            primary=lambda job: job.state == Job.State.DONE,
        ),
        Column("counts", label=_("Rows"), accessor=counts_of),
        DateColumn("created_at", label=_("Started"), sort_key="created_at"),
    ]
    ordering = ["-created_at", "-id"]
    list_per_page = 50

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("progress/<int:pk>/", JobProgressView.as_view(), name="progress"),
            path("download/<int:pk>/", JobDownloadView.as_view(), name="download"),
            path("apply/<int:pk>/", JobApplyView.as_view(), name="apply"),
        ]
