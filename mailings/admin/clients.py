"""Clients in the admin: listing, search, export, add / edit / delete, CSV import, and the
JSON search behind the mailing form's client picker."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from django.views import View
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, DateColumn
from wagtail.admin.widgets.button import HeaderButton

from mailings.admin import scoped
from mailings.admin.filters import SEARCHED, ClientFilterSet
from mailings.admin.forms import ClientForm, ClientImportForm
from mailings.admin.widgets import SHOWN_CHOSEN
from mailings.importing import ImportFileError, clients_import
from mailings.models import Client
from mailings.permissions import policy_for

SEARCH_LIMIT = 20
# "Add all matching" sends the ids as one field (widgets.ClientPicker), so the form takes
# this many in a single POST.
ADD_ALL_LIMIT = 100_000


class ClientStatusColumn(Column):
    cell_template_name = "mailings/tables/client_status_cell.html"

    def get_value(self, instance):
        if instance.unsubscribed_at is not None:
            return pgettext("client status", "Unsubscribed")
        if instance.bounced_at is not None:
            return pgettext("client status", "Bounced")
        return pgettext("client status", "Subscribed")

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["receives"] = instance.unsubscribed_at is None and instance.bounced_at is None
        context["reason"] = instance.bounce_reason if instance.unsubscribed_at is None else ""
        return context


class ClientIndexView(scoped.IndexView):
    template_name = "mailings/clients/index.html"

    @cached_property
    def columns(self):
        return [BulkActionsCheckboxColumn("bulk_actions", obj_type="client"), *super().columns]

    @cached_property
    def header_buttons(self):
        buttons = super().header_buttons
        if self.user_has_permission("add"):
            buttons = [
                *buttons,
                HeaderButton(
                    _("Import CSV"), url=reverse("mailings_clients:import"), icon_name="upload"
                ),
            ]
        return buttons


class ClientImportView(View):
    """Upload a CSV file; the report lists created, updated, merged and invalid rows. A file
    that would change clients already stored is first tried without keeping anything, and
    the changes are shown: applying them takes one more click (the file waits on the server,
    under a name only its uploader's request can give, for a day)."""

    template_name = "mailings/clients/import.html"
    WAITING_FOR = timedelta(days=1)

    def dispatch(self, request, *args, **kwargs):
        if not policy_for(Client).user_has_permission(request.user, "add"):
            return scoped.forbidden(request)
        return super().dispatch(request, *args, **kwargs)

    def form(self, *args, **kwargs):
        return ClientImportForm(*args, owner=self.request.user, **kwargs)

    def get(self, request):
        initial = {"client_list": request.GET.get("list")} if request.GET.get("list") else {}
        return self.render(self.form(initial=initial))

    def post(self, request):
        if "apply" in request.POST:
            return self.apply(request.POST.get("apply", ""))
        form = self.form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(form, status=400)
        upload = form.cleaned_data["file"]
        into = form.cleaned_data["client_list"]
        try:
            trial = clients_import(owner=request.user, file=upload, dry_run=True, client_list=into)
            if trial.changed:
                token = self.keep(upload)
                form = self.form(initial={"client_list": into.pk if into else None})
                return self.render(form, report=trial, waiting=token, into=into)
            upload.seek(0)
            report = clients_import(owner=request.user, file=upload, client_list=into)
        except ImportFileError as exc:
            form.add_error("file", str(exc))
            return self.render(form, status=400)
        return self.done(report)

    def apply(self, token: str):
        path = self.waiting_path(token)
        if path is None or not path.exists():
            messages.error(
                self.request,
                _("That import is no longer waiting. Upload the file again."),
            )
            return self.render(self.form(), status=400)
        # The list chosen with the file (one of the user's own, or none).
        chosen = self.request.POST.get("client_list", "")
        lists = self.form().fields["client_list"].queryset
        into = lists.filter(pk=chosen).first() if chosen.isdigit() and len(chosen) < 19 else None
        try:
            with path.open("rb") as file:
                report = clients_import(owner=self.request.user, file=file, client_list=into)
        except ImportFileError as exc:  # the same file read the same way: not expected
            messages.error(self.request, str(exc))
            return self.render(self.form(), status=400)
        finally:
            path.unlink(missing_ok=True)
        return self.done(report)

    def done(self, report):
        messages.success(
            self.request,
            _("Import finished: %(created)s created, %(updated)s updated, %(invalid)s invalid.")
            % {"created": report.created, "updated": report.updated, "invalid": report.invalid},
        )
        return self.render(self.form(), report=report)

    def waiting_dir(self) -> Path:
        return Path(settings.VAR_DIR) / "imports"

    def waiting_path(self, token: str) -> Path | None:
        """The waiting file of this user for ``token``; None for anything not a token."""
        if not re.fullmatch(r"[0-9a-f]{32}", token):
            return None
        return self.waiting_dir() / f"{self.request.user.pk}-{token}.csv"

    def keep(self, upload) -> str:
        folder = self.waiting_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stale = time.time() - self.WAITING_FOR.total_seconds()
        for old in folder.glob("*.csv"):
            if old.stat().st_mtime < stale:
                old.unlink(missing_ok=True)
        token = uuid.uuid4().hex
        upload.seek(0)
        with self.waiting_path(token).open("wb") as file:
            shutil.copyfileobj(upload, file, 1 << 20)
        return token

    def render(self, form, report=None, status=200, waiting=None, into=None):
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "form": form,
                "report": report,
                "waiting": waiting,
                "into": into,
                "index_url": reverse("mailings_clients:index"),
                "header_icon": "upload",
                "page_title": _("Import clients"),
            },
            status=status,
        )


class ClientSearchView(View):
    """JSON for the client picker: the requesting user's own subscribed clients. A search
    answers the first few with their names; "all" answers every matching id (up to
    ``ADD_ALL_LIMIT``) and the first ones the picker shows by name."""

    def get(self, request):
        clients = policy_for(Client).instances_user_has_any_permission_for(request.user, ["change"])
        query = request.GET.get("q", "").strip()
        if "\x00" in query:  # PostgreSQL refuses NUL in text: not a search anyone types
            return JsonResponse({"error": _("The search contains a NUL character.")}, status=400)
        if query:
            clients = clients.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
        clients = clients.filter(unsubscribed_at__isnull=True).order_by("full_name", "email")
        total = clients.count()
        named = clients.only("pk", "email", "full_name")
        if not request.GET.get("all"):
            results = [{"id": client.pk, "label": str(client)} for client in named[:SEARCH_LIMIT]]
            return JsonResponse({"results": results, "total": total, "more": total > len(results)})
        ids = list(clients.values_list("pk", flat=True)[:ADD_ALL_LIMIT])
        results = [{"id": client.pk, "label": str(client)} for client in named[:SHOWN_CHOSEN]]
        return JsonResponse(
            {"ids": ids, "results": results, "total": total, "more": total > len(ids)}
        )


class ClientDeleteView(scoped.DeleteView):
    """Says what deleting a client changes: the mailings they leave (Wagtail's count of
    references does not see a mailing's list of clients: it said "0 times"), and that
    past runs keep what was sent to them."""

    template_name = "mailings/clients/confirm_delete.html"
    usage_url_name = None
    SHOWN = 10

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        mailings = self.object.mailings.order_by("name")
        context["mailings_count"] = mailings.count()
        context["mailings_shown"] = mailings[: self.SHOWN]
        context["past_deliveries"] = self.object.deliveries.count()
        return context


class ClientViewSet(scoped.ScopedModelViewSet):
    model = Client
    icon = "group"
    menu_label = _("Clients")
    url_prefix = "mailings/clients"
    url_namespace = "mailings_clients"
    index_view_class = ClientIndexView
    delete_view_class = ClientDeleteView
    list_display = [
        "full_name",
        "email",
        ClientStatusColumn("status", label=_("Status")),
        Column("comment", label=_("Comment")),
        DateColumn("updated_at", label=_("Updated"), sort_key="updated_at", classname="updated"),
    ]
    list_export = ["full_name", "email", "comment", "unsubscribed_at", "bounced_at", "created_at"]
    export_filename = "clients"
    search_fields = list(SEARCHED)
    search_backend_name = None
    filterset_class = ClientFilterSet
    ordering = ["full_name", "email"]
    list_per_page = 50
    edit_handler = ObjectList(
        [
            FieldPanel("email"),
            FieldPanel("full_name"),
            FieldPanel("comment"),
            FieldPanel("lists", widget=forms.CheckboxSelectMultiple),
            FieldPanel("reactivate"),
        ],
        base_form_class=ClientForm,
    )
    inspect_view_fields = [
        "full_name",
        "email",
        "comment",
        "unsubscribed_at",
        "bounced_at",
        "bounce_reason",
        "created_at",
    ]

    def get_urlpatterns(self):
        return [
            *super().get_urlpatterns(),
            path("import/", ClientImportView.as_view(), name="import"),
            path("search/", ClientSearchView.as_view(), name="search"),
        ]
