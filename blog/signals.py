"""Forget cached public pages when the page tree changes."""

from django.db.models.signals import post_delete
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished, post_page_move

from site_config.public_cache import bump_generation


def page_deleted(sender, instance, **kwargs) -> None:
    if isinstance(instance, Page):
        bump_generation()


def connect() -> None:
    page_published.connect(bump_generation, dispatch_uid="blog-cache-published")
    page_unpublished.connect(bump_generation, dispatch_uid="blog-cache-unpublished")
    post_page_move.connect(bump_generation, dispatch_uid="blog-cache-moved")
    post_delete.connect(page_deleted, dispatch_uid="blog-cache-deleted")
