"""A multi-select for clients that stays usable with thousands of them: the page holds only
the chosen ones, and a search box asks the server (scoped to the user's own clients)."""

from __future__ import annotations

from django import forms
from django.urls import reverse


class ClientPicker(forms.SelectMultiple):
    template_name = "mailings/widgets/client_picker.html"

    class Media:
        js = ["mailings/js/client-picker.js"]

    def __init__(self, *, search_url_name: str, attrs=None) -> None:
        super().__init__(attrs)
        self.search_url_name = search_url_name

    def optgroups(self, name, value, attrs=None):
        # Render the chosen clients only; listing every client would not scale.
        chosen = [pk for pk in value if pk]
        queryset = getattr(self.choices, "queryset", None)
        if queryset is None or not chosen:
            return [(None, [], 0)]
        options = [
            self.create_option(name, client.pk, str(client), True, index)
            for index, client in enumerate(queryset.filter(pk__in=chosen))
        ]
        return [(None, options, 0)]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url"] = reverse(self.search_url_name)
        return context
