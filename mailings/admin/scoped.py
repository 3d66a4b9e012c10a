"""Wagtail's generic views, restricted to the rows the permission policy allows.

Wagtail 8's generic edit, delete, inspect, history and usage views check model permissions
only; each loads its object by primary key from the whole table. Every view here loads its
rows from ``policy.instances_user_has_any_permission_for`` instead, so another user's row is
a 404 on every path, exports included.
"""

from __future__ import annotations

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.admin_url_finder import NullAdminURLFinder
from wagtail.admin.paginator import WagtailPaginator
from wagtail.admin.ui.tables import Column
from wagtail.admin.views import generic
from wagtail.admin.viewsets.model import ModelViewSet

from mailings.admin.exports import SafeCSVExportMixin
from mailings.admin.paging import KeysFirst
from mailings.permissions import policy_for

VIEW_ACTIONS = ["view", "change", "delete"]


class ForbiddenMixin:
    """A refused model permission answers 403 here, where Wagtail would redirect to the
    dashboard with a message: clearer for people and for anything that checks statuses."""

    refused = False

    def setup(self, request, *args, **kwargs):
        # Wagtail's edit and delete views load their object here, before ``dispatch``.
        try:
            super().setup(request, *args, **kwargs)
        except PermissionDenied:
            self.refused = True

    def dispatch(self, request, *args, **kwargs):
        if self.refused:
            return forbidden(request)
        try:
            return super().dispatch(request, *args, **kwargs)
        except PermissionDenied:
            return forbidden(request)


def forbidden(request, reason: str = ""):
    """The admin's "not allowed" page (403), saying why when there is more to say than
    "you may not do this"; rendered, so that a middleware may answer with it too."""
    return TemplateResponse(
        request,
        "mailings/forbidden.html",
        {"page_title": _("Not allowed"), "header_icon": "warning", "reason": reason},
        status=403,
    ).render()


class ScopedMixin(ForbiddenMixin):
    """Rows this request may touch for the view's actions."""

    scope_actions: list[str] = VIEW_ACTIONS

    @property
    def policy(self):
        return policy_for(self.model)

    def scoped_queryset(self, actions: list[str] | None = None):
        return self.policy.instances_user_has_any_permission_for(
            self.request.user, actions or self.scope_actions
        )


class CountingPaginator(KeysFirst, WagtailPaginator):
    """ "6 клиентов", not Wagtail's "6 клиенты" (a number beside the plural name): a model
    with a ``count_label`` says its count in the reader's plural form. Pages are read keys
    first (``KeysFirst``): a deep page of a big listing costs the index, not the rows."""

    @cached_property
    def items_count_label(self):
        counted = {
            "mailings.client": lambda n: ngettext("%(count)s client", "%(count)s clients", n),
            "mailings.message": lambda n: ngettext("%(count)s message", "%(count)s messages", n),
            "mailings.mailing": lambda n: ngettext("%(count)s mailing", "%(count)s mailings", n),
            "mailings.attempt": lambda n: ngettext("%(count)s run", "%(count)s runs", n),
            "mailings.delivery": lambda n: ngettext(
                "%(count)s failed delivery", "%(count)s failed deliveries", n
            ),
            "mailings.job": lambda n: ngettext(
                "%(count)s import or export", "%(count)s imports and exports", n
            ),
        }.get(self.model._meta.label_lower if self.model else "")
        if counted is None:
            return super().items_count_label
        return counted(self.count) % {"count": self.count}


class IndexView(SafeCSVExportMixin, ScopedMixin, generic.IndexView):
    paginator_class = CountingPaginator

    def get_base_queryset(self):
        rows = self.scoped_queryset()
        if self.policy.sees_every_owner(self.request.user):
            # The Owner column: loaded with the rows, not one query per row (issue 25).
            rows = rows.select_related(self.policy.owner_path)
        return rows

    @cached_property
    def add_item_label(self):
        # Wagtail's "Add %(model_name)s" reads "Добавить рассылка" in Russian: a model that
        # names its own button ("Add mailing", "Добавить рассылку") is asked first.
        return getattr(self.model, "add_label", None) or super().add_item_label

    @cached_property
    def columns(self):
        columns = super().columns
        if self.policy.sees_every_owner(self.request.user):
            owner = Column(
                "owner",
                accessor=self.policy.owner_path.replace("__", ".") + ".email",
                label=_("Owner"),
                sort_key=self.policy.owner_path,
            )
            columns = [*columns, owner]
        return columns


# Wagtail's generic messages put the model's name beside a word that agrees with it in
# English only (in Russian, "New" and "could not create" then take the wrong gender and
# case): these name the object, or nothing, and read right in both languages.
SAVED = _("“%(object)s” is saved.")
NOT_SAVED = _("Nothing was saved: please correct the errors below.")


class CreateView(ForbiddenMixin, generic.CreateView):
    success_message = SAVED
    error_message = NOT_SAVED

    def get_initial_form_instance(self):
        # The owner comes from the request, never from the form.
        return self.model(owner=self.request.user)

    def get_page_title(self):
        return getattr(self.model, "add_label", None) or super().get_page_title()

    def get_page_subtitle(self):
        return "" if getattr(self.model, "add_label", None) else super().get_page_subtitle()

    def get_breadcrumbs_items(self):
        items = super().get_breadcrumbs_items()
        label = getattr(self.model, "add_label", None)
        return [*items[:-1], {**items[-1], "label": label}] if label and items else items


class ScopedObjectMixin(ScopedMixin):
    """The object, if the request may act on it; "not allowed" (403) if it may only see it,
    404 if not even that."""

    def get_queryset(self):
        return self.scoped_queryset()

    def get_object(self, queryset=None):
        try:
            return super().get_object(queryset)
        except Http404:
            self.policy.refuse(self.request.user, self.kwargs.get(self.pk_url_kwarg))


class EditView(ScopedObjectMixin, generic.EditView):
    scope_actions = ["change"]
    success_message = SAVED
    error_message = NOT_SAVED


class DeleteView(ScopedObjectMixin, generic.DeleteView):
    scope_actions = ["delete"]
    success_message = _("“%(object)s” is deleted.")

    @property
    def confirmation_message(self):
        return _("Delete “%(object)s” for good?") % {"object": self.object}


class InspectView(ScopedMixin, generic.InspectView):
    def get_object(self, queryset=None):
        return get_object_or_404(self.scoped_queryset(), pk=unquote(str(self.pk)))

    def get_fields_context(self):
        # A page that lays out its own facts (its template replaces ``fields_output``) does
        # not need Wagtail's list of every field's value: for a mailing of 50,000 clients
        # that list was a string of all their names, built and never shown (issue 25).
        if self.template_name != generic.InspectView.template_name:
            return []
        return super().get_fields_context()


class HistoryView(ScopedMixin, generic.HistoryView):
    def get_base_object_queryset(self):
        return self.scoped_queryset()


class UsageView(ScopedMixin, generic.UsageView):
    scope_actions = ["change"]

    def get_base_object_queryset(self):
        return self.scoped_queryset()


class ScopedModelViewSet(ModelViewSet):
    """A ModelViewSet whose every view is scoped by the model's permission policy."""

    index_view_class = IndexView
    add_view_class = CreateView
    edit_view_class = EditView
    delete_view_class = DeleteView
    inspect_view_class = InspectView
    history_view_class = HistoryView
    usage_view_class = UsageView
    copy_view_enabled = False
    inspect_view_enabled = True
    add_to_admin_menu = False

    def get_urlpatterns(self):
        # DESIGN.md names the create path `add/`; Wagtail's own `new/` keeps working.
        return [
            *(pattern for pattern in super().get_urlpatterns() if pattern.name != "add"),
            path("add/", self.add_view, name="add"),
            path("new/", self.add_view),
        ]


class ReadOnlyModelViewSet(ScopedModelViewSet):
    """Rows the engine makes and nobody edits (runs, deliveries): a listing and, where the
    viewset registers one, an inspect page. Wagtail links to add, edit, delete, history and
    usage views whenever the user holds those model permissions, as a superuser does; with
    the views not registered that was a NoReverseMatch (a 500), so the links are off."""

    url_finder_class = NullAdminURLFinder

    def get_common_view_kwargs(self, **kwargs):
        return super().get_common_view_kwargs(
            **{
                "add_url_name": None,
                "edit_url_name": None,
                "delete_url_name": None,
                "history_url_name": None,
                "usage_url_name": None,
                **kwargs,
            }
        )
