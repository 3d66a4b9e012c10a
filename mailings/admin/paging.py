"""A list inside a page (a mailing's clients, a run's deliveries): searched, filtered and
paged by the query string, so that ten thousand rows are a page of them, never the lot.

``q`` is the search (at most 100 characters), ``p`` the page (garbage, zero or less is the
first page, a page past the end the last); each list is the only paged one of its page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

PER_PAGE = 50
QUERY_MAX = 100


class KeysFirst:
    """A page of a queryset in two steps: the keys of the page's rows, in the listing's order,
    then those rows. Deep in a million rows, the first step reads only what the order needs
    (an index, often without the table) and skips the rest; the rows themselves, their joins
    included, are read for the page alone. A page past the middle is counted from the other
    end, in the reverse order: the last page costs what the first does. One more query per
    page, on every listing alike.

    A paginator's mixin: ``class P(KeysFirst, Paginator)``."""

    def page(self, number):
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        ordering = list(rows.query.order_by or rows.model._meta.ordering)
        if ordering and not {"pk", "-pk", "id", "-id", "?"} & {
            key for key in ordering if isinstance(key, str)
        }:
            # The order made total (the key breaks ties): pages neither repeat nor skip a
            # row, and read backwards it is exactly the same order reversed.
            rows = rows.order_by(*ordering, "pk")
        if ordering and "?" not in ordering and bottom > self.count // 2:
            backwards = rows.reverse().values_list("pk", flat=True)
            keys = list(backwards[self.count - top : self.count - bottom])[::-1]
        else:
            keys = list(rows.values_list("pk", flat=True)[bottom:top])
        found = rows.order_by().in_bulk(keys) if keys else {}
        return self._get_page([found[key] for key in keys if key in found], number, self)


class KeysFirstPaginator(KeysFirst, Paginator):
    pass


def sorted_after_search(rows: QuerySet) -> QuerySet:
    """The rows a search matched, in the same order, but sorted once found rather than found
    while walking the order's index. The planner walks that index when it expects the
    matches to be spread evenly along it; a search for the start of a name ("Zhang", in a
    listing by name) finds them all at one end, and the walk reads a million rows for 50.
    Ordering by an expression the index does not serve (``COALESCE(x, x)``, equal to ``x``)
    lets it read the matches from the search's index and sort those few."""
    ordering = []
    for key in rows.query.order_by or rows.model._meta.ordering:
        if not isinstance(key, str) or key == "?":
            ordering.append(key)
            continue
        field = F(key.lstrip("-"))
        value = Coalesce(field, field)
        ordering.append(value.desc() if key.startswith("-") else value.asc())
    return rows.order_by(*ordering)


@dataclass(frozen=True)
class Listed:
    page: Page
    query: str
    matched: int  # rows that match the search and filters, on every page


def listed(request, rows: QuerySet, *, search: tuple[str, ...], per_page: int = PER_PAGE):
    query = request.GET.get("q", "").strip()[:QUERY_MAX]
    if "\x00" in query:  # PostgreSQL refuses NUL in text: no search, as Wagtail's listings do
        query = ""
    if query:
        matches = Q()
        for field in search:
            matches |= Q(**{f"{field}__icontains": query})
        rows = rows.filter(matches)
    raw = request.GET.get("p", "")
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 1
    page = KeysFirstPaginator(rows, per_page).get_page(max(number, 1))
    return Listed(page=page, query=query, matched=page.paginator.count)
