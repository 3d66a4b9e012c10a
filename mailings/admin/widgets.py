"""A multi-select for clients that stays usable with a hundred thousand of them: the page
holds the chosen ids in one hidden field (a comma-separated list, so "Add all matching" posts
one field, not one per client, and stays under ``DATA_UPLOAD_MAX_NUMBER_FIELDS``), shows the
first few chosen by name, and a search box asks the server (the user's own clients only).

The form field behind it is still a ``ModelMultipleChoiceField`` over the owner's clients:
this widget only turns the one field into the list of ids that field validates.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.urls import reverse

SHOWN_CHOSEN = 10  # chosen clients shown by name; the rest are counted


@dataclass(frozen=True)
class ChosenIds:
    """A mailing's chosen clients as the hidden field carries them: one comma-separated
    string and its count. A mailing of 50,000 clients is one string on the way to the page,
    not 50,000 Python objects that every allocation's garbage collection walks again."""

    text: str
    count: int

    def first(self, n: int) -> list[str]:
        return self.text.split(",", n)[:n] if self.text else []

    def __iter__(self):
        return iter(self.text.split(",") if self.text else ())

    def __len__(self) -> int:
        return self.count


def client_ids(values) -> list[str]:
    """Every id in ``values`` (comma-separated lists, or one id each), in order, once."""
    ids = []
    for value in values:
        ids.extend(part.strip() for part in str(value).split(","))
    return list(dict.fromkeys(part for part in ids if part))


def plain_ids(ids) -> list[int]:
    """The ids that can be looked up at all (small non-negative integers); the form field
    reports the others, the widget only must not fail on them while showing the form."""
    return [int(pk) for pk in ids if pk.isascii() and pk.isdigit() and len(pk) <= 18]


class ClientPicker(forms.SelectMultiple):
    template_name = "mailings/widgets/client_picker.html"

    class Media:
        js = ["mailings/js/client-picker.js"]

    def __init__(self, *, search_url_name: str, attrs=None) -> None:
        super().__init__(attrs)
        self.search_url_name = search_url_name
        # Whose clients the search offers: the mailing's owner's, which are what the form
        # accepts (a superuser editing another user's mailing searches that user's).
        self.owner_id: int | None = None

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        return client_ids(values)

    def format_value(self, value):
        if isinstance(value, ChosenIds):
            return value
        if value is None:
            value = []
        if not isinstance(value, (list, tuple)):
            value = [value]
        ids = client_ids(getattr(item, "pk", item) for item in value if item is not None)
        return ChosenIds(",".join(ids), len(ids))

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen = context["widget"]["value"]
        queryset = getattr(self.choices, "queryset", None)
        shown = plain_ids(chosen.first(SHOWN_CHOSEN))
        labels = {}
        if queryset is not None and shown:
            labels = {str(client.pk): str(client) for client in queryset.filter(pk__in=shown)}
        context["widget"].update(
            search_url=reverse(self.search_url_name)
            + (f"?owner={int(self.owner_id)}" if self.owner_id else ""),
            ids=chosen.text,
            count=chosen.count,
            labels=labels,
            shown_chosen=SHOWN_CHOSEN,
        )
        return context

    def optgroups(self, name, value, attrs=None):
        return []  # the chosen ids are one hidden field (get_context), never one <option> each


class ClientChoiceField(forms.ModelMultipleChoiceField):
    """The chosen clients, as ids, checked against the field's queryset (the owner's
    clients) in a few large queries: Django's own check builds a query per id, which for a
    hundred thousand takes longer than a request may. An id that is not a plain number, or
    not one of those clients, is the usual form error; the cleaned value is the list of ids
    (``clients.set`` takes ids)."""

    batch_size = 10_000

    def prepare_value(self, value):
        # The stored choice is already what the widget shows: not 50,000 values prepared.
        return value if isinstance(value, ChosenIds) else super().prepare_value(value)

    def _check_values(self, value):
        ids = []
        for pk in value:
            text = str(pk)
            if not (text.isascii() and text.isdigit() and len(text) <= 18):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": text[:40]},
                )
            ids.append(int(text))
        ids = list(dict.fromkeys(ids))
        found = set()
        for start in range(0, len(ids), self.batch_size):
            batch = ids[start : start + self.batch_size]
            found.update(self.queryset.filter(pk__in=batch).values_list("pk", flat=True))
        for pk in ids:
            if pk not in found:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": pk},
                )
        return ids
