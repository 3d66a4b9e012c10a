"""API tokens in the admin: Wagtail's own views (a token is named, shown once, stored as a
digest, revocable), where someone who may manage only their own tokens is not asked whose
token it is."""

from __future__ import annotations

from django import forms
from wagtail.admin.views import generic
from wagtail.users.utils import get_manageable_token_owners
from wagtail.users.views.api_tokens import APITokenViewSet, CreateView


class OwnTokenCreateView(CreateView):
    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        owners = kwargs["manageable_users"]
        if owners.count() == 1 and owners.first() == self.request.user:
            if "data" in kwargs:  # the token is the asker's own whatever the form says
                kwargs["data"] = kwargs["data"].copy()
                kwargs["data"]["user"] = str(self.request.user.pk)
            kwargs["initial"] = {**kwargs.get("initial", {}), "user": self.request.user.pk}
        return kwargs

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        owners = get_manageable_token_owners(self.request.user)
        if owners.count() == 1:
            form.fields["user"].widget = forms.HiddenInput()
        return form


class ManageableTokensMixin:
    """Only tokens the asker may manage (their own, unless they manage users): Wagtail scopes
    its token listing, edit and revoke views so, not the history and usage views it inherits
    (they showed any token's history by its id)."""

    def get_base_object_queryset(self):
        owners = get_manageable_token_owners(self.request.user)
        return super().get_base_object_queryset().filter(user__in=owners)


class TokenHistoryView(ManageableTokensMixin, generic.HistoryView):
    pass


class TokenUsageView(ManageableTokensMixin, generic.UsageView):
    pass


class OwnAPITokenViewSet(APITokenViewSet):
    add_view_class = OwnTokenCreateView
    history_view_class = TokenHistoryView
    usage_view_class = TokenUsageView
