"""What the admin shows by role: the page tree's search and Wagtail's editor guide only to
those who edit pages (a mailings user or manager has no pages to search)."""

from django import template
from wagtail.models import Page
from wagtail.permissions import policy_registry

register = template.Library()


@register.filter
def explores_pages(user) -> bool:
    return policy_registry.get_by_type(Page).explorable_root_instance(user) is not None
