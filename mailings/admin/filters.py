"""Choices of the listings' filters: only what the request may see, as the policy says."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms.search import SearchForm

from accounts.models import User
from mailings.models import Client, ClientList, Mailing
from mailings.permissions import policy_for


def visible_mailings(request):
    if request is None:
        return Mailing.objects.none()
    return (
        policy_for(Mailing)
        .instances_user_has_permission_for(request.user, "view")
        .select_related("message")  # the choices show each mailing's subject
    )


def visible_owners(request):
    """Owners of the mailings this request may see: for the Owner filters of managers."""
    if request is None:
        return User.objects.none()
    return User.objects.filter(pk__in=visible_mailings(request).values("owner")).order_by("email")


def visible_lists(request):
    if request is None:
        return ClientList.objects.none()
    return policy_for(ClientList).instances_user_has_permission_for(request.user, "view")


class ClientFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        choices=[
            ("subscribed", pgettext_lazy("client status", "Subscribed")),
            ("unsubscribed", pgettext_lazy("client status", "Unsubscribed")),
            ("bounced", pgettext_lazy("client status", "Bounced")),
        ],
        method="filter_status",
        empty_label=_("Any"),
    )
    list = django_filters.ModelChoiceFilter(
        label=_("List"), field_name="lists", queryset=visible_lists, empty_label=_("Any")
    )
    created_at = django_filters.DateFromToRangeFilter(
        label=_("Added"), widget=DateRangePickerWidget
    )

    class Meta:
        model = Client
        fields = ["status", "list", "created_at"]

    def filter_status(self, queryset, name, value):
        return queryset.in_state(value)


SEARCHED = ("email", "full_name", "comment")  # the clients listing's search fields


def matching_clients(request, allowed):
    """The clients of ``allowed`` that the listing shows for this request's filters and
    search (``q``), on every page: what "select all in listing" means. Filters that do not
    validate match nothing."""
    filters = ClientFilterSet(request.GET, queryset=allowed, request=request)
    if not filters.is_valid():
        return allowed.none()
    rows = filters.qs
    query = SearchForm(request.GET)
    if query.is_valid() and query.cleaned_data["q"]:
        term = query.cleaned_data["q"]
        match = Q()
        for field in SEARCHED:
            match |= Q(**{f"{field}__icontains": term})
        rows = rows.filter(match)
    return rows
