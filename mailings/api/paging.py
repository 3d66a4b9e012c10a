"""Cursor pagination: a page of a big listing costs the same at its end as at its start, and
rows written meanwhile neither repeat nor go missing."""

from rest_framework.pagination import CursorPagination


class Cursor(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"
