"""API tokens in the admin: Wagtail's own views (a token is named, shown once, stored as a
digest, revocable), where someone who may manage only their own tokens is not asked whose
token it is."""

from __future__ import annotations

from django import forms
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


class OwnAPITokenViewSet(APITokenViewSet):
    add_view_class = OwnTokenCreateView
