"""Forget cached public pages when the page tree changes, or who may see a page does."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

from site_config.public_cache import bump_generation


def page_deleted(sender, instance, **kwargs) -> None:
    if isinstance(instance, Page):
        bump_generation()


def restriction_changed(sender, instance, **kwargs) -> None:
    # Now, and again once the change is committed: a page rendered in between (still public
    # to a request that cannot see the uncommitted restriction) would otherwise stay cached
    # under the new generation.
    bump_generation()
    transaction.on_commit(bump_generation)


def connect() -> None:
    page_published.connect(bump_generation, dispatch_uid="blog-cache-published")
    page_unpublished.connect(bump_generation, dispatch_uid="blog-cache-unpublished")
    post_page_move.connect(bump_generation, dispatch_uid="blog-cache-moved")
    post_delete.connect(page_deleted, dispatch_uid="blog-cache-deleted")
    # A page made private (or public again) in the admin's Privacy dialog is not published:
    # only its view restriction is saved or deleted. A cached copy must not outlive it, nor
    # may the blog index or the home page's cards keep listing the page.
    post_save.connect(
        restriction_changed, sender=PageViewRestriction, dispatch_uid="blog-cache-restricted"
    )
    post_delete.connect(
        restriction_changed, sender=PageViewRestriction, dispatch_uid="blog-cache-unrestricted"
    )
