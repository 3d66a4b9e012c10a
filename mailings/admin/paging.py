"""A list inside a page (a mailing's clients, a run's deliveries): searched, filtered and
paged by the query string, so that ten thousand rows are a page of them, never the lot.

``q`` is the search (at most 100 characters), ``p`` the page (garbage, zero or less is the
first page, a page past the end the last); each list is the only paged one of its page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

PER_PAGE = 50
QUERY_MAX = 100


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
    page = Paginator(rows, per_page).get_page(max(number, 1))
    return Listed(page=page, query=query, matched=page.paginator.count)
