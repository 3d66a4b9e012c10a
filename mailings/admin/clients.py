"""Clients in the admin: listing, search, export, add / edit / delete, CSV import, and the
JSON search behind the mailing form's client picker."""

from __future__ import annotations

from django import forms
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from django.views import View
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn, Column, DateColumn
from wagtail.admin.widgets.button import HeaderButton

from mailings import services
from mailings.admin import paging, scoped
from mailings.admin.filters import SEARCHED, ClientFilterSet
from mailings.admin.forms import ClientForm, ClientImportForm
from mailings.admin.jobs import busy_message, counts_of, recent_imports
from mailings.admin.widgets import SHOWN_CHOSEN
from mailings.models import Client
from mailings.permissions import policy_for

SEARCH_LIMIT = 20
COUNT_CAP = 1_000  # the picker counts matches up to this many: "more than 1,000"
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

    def search_queryset(self, queryset):
        queryset = super().search_queryset(queryset)
        return paging.sorted_after_search(queryset) if self.is_searching else queryset

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
    """Upload a CSV file: it is stored and imported by a worker (mailings/jobs.py), and the
    browser goes to the import's page, which follows it and shows the report. A file that
    would change clients already stored stops before writing anything, and its page lists the
    changes: applying them takes one more click. One import at a time per user."""

    template_name = "mailings/clients/import.html"

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
        form = self.form(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(form, status=400)
        try:
            job = services.import_start(
                owner=request.user,
                upload=form.cleaned_data["file"],
                client_list=form.cleaned_data["client_list"],
            )
        except services.ImportBusyError:
            form.add_error(None, busy_message())
            return self.render(form, status=409)
        return redirect("mailings_jobs:inspect", job.pk)

    def render(self, form, status=200):
        return TemplateResponse(
            self.request,
            self.template_name,
            {
                "form": form,
                "recent": [(job, counts_of(job)) for job in recent_imports(self.request.user)],
                "index_url": reverse("mailings_clients:index"),
                "header_icon": "upload",
                "page_title": _("Import clients"),
            },
            status=status,
        )


class ClientSearchView(View):
    """JSON for the client picker: the requesting user's own subscribed clients. A search
    answers the first few with their names and how many match (up to ``COUNT_CAP``); "all"
    answers every matching id (up to ``ADD_ALL_LIMIT``), their exact number, and the first
    ones the picker shows by name."""

    def get(self, request):
        # The clients of the mailing's owner (``?owner=``, the form's), or the user's own:
        # what the mailing form accepts, among those the user may change.
        policy = policy_for(Client)
        owner = request.GET.get("owner", "")
        whose = int(owner) if owner.isdigit() and len(owner) < 19 else request.user.pk
        clients = policy.instances_user_has_any_permission_for(request.user, ["change"]) & (
            policy.instances_owned_by(whose)
        )
        query = request.GET.get("q", "").strip()
        if "\x00" in query:  # PostgreSQL refuses NUL in text: not a search anyone types
            return JsonResponse({"error": _("The search contains a NUL character.")}, status=400)
        clients = clients.filter(unsubscribed_at__isnull=True).order_by("full_name", "email")
        if query:
            clients = clients.filter(Q(email__icontains=query) | Q(full_name__icontains=query))
        named = clients.only("pk", "email", "full_name")
        if not request.GET.get("all"):
            return JsonResponse(self.first_matches(named, query))
        if query:
            named = paging.sorted_after_search(named)
        total = clients.count()
        ids = list(clients.values_list("pk", flat=True)[:ADD_ALL_LIMIT])
        results = [{"id": client.pk, "label": str(client)} for client in named[:SHOWN_CHOSEN]]
        return JsonResponse(
            {"ids": ids, "results": results, "total": total, "more": total > len(ids)}
        )

    @staticmethod
    def first_matches(clients, query: str) -> dict:
        """What the picker shows as one types: the first matches by name, and how many
        match, counted up to ``COUNT_CAP`` ("more than 1,000"). A keystroke never sorts or
        counts a hundred thousand matches: with a search, the first ``COUNT_CAP + 1`` found
        are read and the first of them by name shown (refining the search narrows them);
        without one, the first clients by name come from the name index."""
        if query:
            found = list(clients.order_by()[: COUNT_CAP + 1])
            total = len(found)
            found.sort(key=lambda c: (c.full_name.casefold(), c.email.casefold(), c.pk))
            shown = found[:SEARCH_LIMIT]
        else:
            shown = list(clients[:SEARCH_LIMIT])
            total = clients.order_by()[: COUNT_CAP + 1].count()
        over = total > COUNT_CAP
        results = [{"id": client.pk, "label": str(client)} for client in shown]
        return {
            "results": results,
            "total": min(total, COUNT_CAP),
            "over": over,
            "more": over or total > len(results),
        }


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
