"""Bulk actions on the clients listing (Wagtail's bulk-action framework): add to a list,
remove from a list, unsubscribe, reactivate, delete — over the rows ticked, or over every
row matching the listing's filters and search ("select all in listing").

Wagtail's base class loads every chosen object into Python to list it on the confirmation
page and to act on it; for "all matching" that is every client of a large list. Here the
rows stay a queryset from start to end: the confirmation page shows their count and the
first few, and each action is a fixed number of set-based statements, whatever the count.
"""

from __future__ import annotations

from django import forms
from django.db import transaction
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin import messages
from wagtail.admin.views.bulk_action import BulkAction

from mailings import bounces, sql
from mailings.admin.filters import matching_clients
from mailings.admin.scoped import forbidden
from mailings.models import Client, ClientList, Membership
from mailings.permissions import policy_for

SHOWN = 10  # clients named on the confirmation page
MAX_IDS = 10_000  # ticked ids taken from one request


class ListChoiceForm(forms.Form):
    client_list = forms.ModelChoiceField(label=_("List"), queryset=ClientList.objects.none())

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client_list"].queryset = policy_for(ClientList).instances_owned_by(owner)


class ClientBulkAction(BulkAction):
    models = [Client]
    template_name = "mailings/clients/bulk_confirm.html"
    permission = "change"
    question = ""
    button = ""

    def dispatch(self, request, *args, **kwargs):
        if not policy_for(Client).user_has_permission(request.user, self.permission):
            return forbidden(request)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def clients(self):
        """The clients this request acts on: its own ticked ids, or every one matching the
        listing's filters and search ("all"); never another user's."""
        allowed = policy_for(Client).instances_user_has_permission_for(
            self.request.user, self.permission
        )
        ids = self.request.GET.getlist("id")
        if "all" in ids:
            return matching_clients(self.request, allowed)
        chosen = [int(i) for i in ids[:MAX_IDS] if i.isdigit() and len(i) < 19]
        return allowed.filter(pk__in=chosen)

    def get_form(self, form_class=None):
        return None

    def get_context_data(self, **kwargs):
        count = self.clients.count()
        form = kwargs.get("form") or self.get_form()
        return {
            "view": self,
            "form": form,
            "count": count,
            "shown": list(self.clients.order_by("full_name", "email")[:SHOWN]),
            "more": max(count - SHOWN, 0),
            "question": self.question,
            "button": self.button,
            "serious": "serious" in self.classes,
            "next": self.next_url,
            "submit_url": self.request.path + "?" + self.request.META["QUERY_STRING"],
            "header_icon": "group",
            "page_title": self.display_name,
        }

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if form is not None and not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        with transaction.atomic():
            done = self.act(self.clients, form)
        messages.success(request, self.done_message(done, form))
        return redirect(self.next_url)

    def act(self, clients, form) -> int:
        raise NotImplementedError

    def done_message(self, count: int, form) -> str:
        raise NotImplementedError


class ListBulkAction(ClientBulkAction):
    def get_form(self, form_class=None):
        data = self.request.POST if self.request.method == "POST" else None
        return ListChoiceForm(data, owner=self.request.user)


class AddToListBulkAction(ListBulkAction):
    display_name = _("Add to list")
    action_type = "add_to_list"
    aria_label = _("Add the selected clients to a list")
    action_priority = 10
    question = _("Add these clients to the list below? Those in it already stay as they are.")
    button = _("Add to list")

    def act(self, clients, form) -> int:
        client_list = form.cleaned_data["client_list"]
        # A list holds its owner's clients only (a superuser's selection may span owners).
        own = policy_for(Client).instances_owned_by(client_list.owner)
        return sql.add_to_list(
            list_id=client_list.pk,
            clients=own.filter(pk__in=clients.values("pk")),
            source=Membership.Source.ADMIN,
        )

    def done_message(self, count, form):
        return ngettext(
            "%(count)s client added to “%(list)s”.",
            "%(count)s clients added to “%(list)s”.",
            count,
        ) % {"count": count, "list": form.cleaned_data["client_list"]}


class RemoveFromListBulkAction(ListBulkAction):
    display_name = _("Remove from list")
    action_type = "remove_from_list"
    aria_label = _("Remove the selected clients from a list")
    action_priority = 20
    question = _("Remove these clients from the list below? They stay among your clients.")
    button = _("Remove from list")

    def act(self, clients, form) -> int:
        memberships = Membership.objects.filter(
            client_list=form.cleaned_data["client_list"], client__in=clients.values("pk")
        )
        return memberships.delete()[0]

    def done_message(self, count, form):
        return ngettext(
            "%(count)s client removed from “%(list)s”.",
            "%(count)s clients removed from “%(list)s”.",
            count,
        ) % {"count": count, "list": form.cleaned_data["client_list"]}


class UnsubscribeBulkAction(ClientBulkAction):
    display_name = _("Unsubscribe")
    action_type = "unsubscribe"
    aria_label = _("Unsubscribe the selected clients")
    action_priority = 30
    question = _("Unsubscribe these clients? No mailing sends to them again unless they sign up.")
    button = _("Unsubscribe")

    def act(self, clients, form) -> int:
        now = timezone.now()
        return clients.filter(unsubscribed_at__isnull=True).update(
            unsubscribed_at=now, updated_at=now
        )

    def done_message(self, count, form):
        return ngettext(
            "%(count)s client unsubscribed.", "%(count)s clients unsubscribed.", count
        ) % {"count": count}


class ReactivateBulkAction(ClientBulkAction):
    display_name = _("Reactivate")
    action_type = "reactivate"
    aria_label = _("Mail the selected bounced clients again")
    action_priority = 40
    question = _(
        "Mail to these addresses bounced. Send to them again? Do it only if you know the "
        "addresses work now: mailing dead addresses harms the delivery of all your mail."
    )
    button = _("Reactivate")

    def act(self, clients, form) -> int:
        return bounces.reactivate(clients)

    def done_message(self, count, form):
        return ngettext(
            "%(count)s client reactivated.", "%(count)s clients reactivated.", count
        ) % {"count": count}


class DeleteBulkAction(ClientBulkAction):
    display_name = _("Delete")
    action_type = "delete"
    aria_label = _("Delete the selected clients")
    action_priority = 50
    classes = {"serious"}
    permission = "delete"
    question = _(
        "Delete these clients? They leave every list and mailing; past runs keep the "
        "address and what was sent to it. This cannot be undone."
    )
    button = _("Yes, delete")

    def act(self, clients, form) -> int:
        return sql.delete_clients(clients)

    def done_message(self, count, form):
        return ngettext("%(count)s client deleted.", "%(count)s clients deleted.", count) % {
            "count": count
        }


ACTIONS = (
    AddToListBulkAction,
    RemoveFromListBulkAction,
    UnsubscribeBulkAction,
    ReactivateBulkAction,
    DeleteBulkAction,
)
