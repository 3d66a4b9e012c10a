"""Lists of clients in the admin: add, rename, delete; a list's page says who is in it (with
a link to the clients listing filtered by it), and gives its public subscription form's
address and an HTML snippet to paste into another site."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import Column, DateColumn, Table, TitleColumn

from mailings import subscribing
from mailings.admin import paging, scoped
from mailings.admin.clients import ClientStatusColumn
from mailings.admin.forms import ClientListForm
from mailings.models import ClientList, Subscription
from mailings.permissions import policy_for


def clients_url(client_list: ClientList) -> str:
    return reverse("mailings_clients:index") + f"?list={client_list.pk}"


class ClientsColumn(Column):
    """How many clients are in the list, linked to them in the clients listing."""

    cell_template_name = "mailings/lists/clients_cell.html"

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context["url"] = clients_url(instance)
        return context


class ListIndexView(scoped.IndexView):
    def get_base_queryset(self):
        return super().get_base_queryset().annotate(clients_count=Count("memberships"))

    def _get_title_column(self, field_name, column_class=TitleColumn, **kwargs):
        # A list's name leads to its page (its form, its clients, its mailings); editing its
        # name is one click further, in the page's header and in the row's menu.
        column_class = self._get_title_column_class(column_class)
        return self._get_custom_column(
            field_name, column_class, get_url=self.get_inspect_url, **kwargs
        )


class ListInspectView(scoped.InspectView):
    template_name = "mailings/lists/inspect.html"

    @cached_property
    def counts(self) -> dict:
        clients = self.object.clients.all()
        return clients.aggregate(
            total=Count("pk"),
            subscribed=Count("pk", filter=Q(unsubscribed_at__isnull=True, bounced_at__isnull=True)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
            bounced=Count("pk", filter=Q(bounced_at__isnull=False, unsubscribed_at__isnull=True)),
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        members = self.object.clients.order_by("full_name", "email", "pk")
        chosen = paging.listed(self.request, members, search=("full_name", "email"))
        context["clients_listed"] = chosen
        context["clients_table"] = Table(
            [
                Column("full_name", label=_("Full name")),
                Column("email", label=_("E-mail address")),
                ClientStatusColumn("status", label=_("Status")),
            ],
            chosen.page.object_list,
        )
        sign_ups = (
            policy_for(Subscription)
            .instances_owned_by(self.object.owner)
            .filter(client_list=self.object)
        )
        form_url = subscribing.form_url(self.object)
        context.update(
            {
                "counts": self.counts,
                "clients_url": clients_url(self.object),
                "import_url": reverse("mailings_clients:import") + f"?list={self.object.pk}",
                "form_url": form_url,
                "snippet": snippet(form_url),
                "pending": sign_ups.filter(confirmed_at__isnull=True).count(),
                "confirmed": sign_ups.filter(confirmed_at__isnull=False).count(),
                "mailings": self.object.mailings.order_by("name")[:10],
                "may_import": policy_for(ClientList).permits(
                    self.request.user, ["change"], self.object
                ),
            }
        )
        return context


def snippet(form_url: str) -> str:
    """A form to paste into another site: it posts to the list's form, which answers."""
    return (
        f'<form method="post" action="{form_url}">\n'
        '  <label>Name <input name="full_name" required></label>\n'
        '  <label>E-mail <input name="email" type="email" required></label>\n'
        '  <input name="website" tabindex="-1" autocomplete="off"'
        ' style="position:absolute;left:-10000px" aria-hidden="true">\n'
        '  <button type="submit">Subscribe</button>\n'
        "</form>"
    )


class ClientListViewSet(scoped.ScopedModelViewSet):
    model = ClientList
    icon = "list-ul"
    menu_label = _("Lists")
    url_prefix = "mailings/lists"
    url_namespace = "mailings_lists"
    index_view_class = ListIndexView
    inspect_view_class = ListInspectView
    inspect_view_enabled = True
    list_display = [
        "name",
        ClientsColumn("clients_count", label=_("Clients"), sort_key="clients_count"),
        DateColumn("created_at", label=_("Created"), sort_key="created_at"),
    ]
    search_fields = ["name", "description"]
    search_backend_name = None
    ordering = ["name"]
    list_per_page = 50
    edit_handler = ObjectList(
        [FieldPanel("name"), FieldPanel("description")], base_form_class=ClientListForm
    )
