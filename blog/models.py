"""The blog: one index page under the home page, posts only under the index."""

from django.core.paginator import Paginator
from django.db import models
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

from blog import view_counter
from site_config.public_cache import (
    PAGE_QUERY,
    fragment_context,
    live_part,
    mark_cacheable,
    mark_query_cacheable,
    uses_public_cache,
)


class BlogIndexPage(Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]

    parent_page_types = ["home.HomePage"]
    subpage_types = ["blog.BlogPage"]
    max_count = 1

    posts_per_page = 10

    class Meta:
        verbose_name = _("blog index")

    def posts(self):
        return (
            BlogPage.objects.child_of(self)
            .live()
            .public()
            .select_related("image")
            .order_by("-date_published", "-pk")
        )

    def serve(self, request, *args, **kwargs):
        if uses_public_cache(request):
            mark_cacheable(request)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        paginator = Paginator(self.posts(), self.posts_per_page)
        asked = request.GET.get("page")
        # Built only when the cached fragment has to be rendered: a warm cache costs no
        # query for the list (even building ``.public()`` reads the view restrictions).
        context["posts"] = SimpleLazyObject(lambda: paginator.get_page(asked))
        context.update(fragment_context(request))
        number = cacheable_page_number(request, paginator)
        if number is None:
            # Not a page number of this list (a typo, a number past the end, anything else
            # in the query string): shown as Paginator.get_page() shows it, never cached, so
            # no visitor can add a cache entry per value they make up.
            context["public_cache"] = False
        elif asked is not None:
            mark_query_cacheable(request, f"page={number}")
        context["page_number"] = number
        return context


class BlogPage(Page):
    date_published = models.DateField(_("publication date"), default=timezone.localdate)
    teaser = models.CharField(
        _("teaser"), max_length=300, blank=True, help_text=_("Shown in the list of posts.")
    )
    body = RichTextField(_("body"))
    image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Counted by the site, not edited: kept out of the panels and out of revisions.
    view_count = models.PositiveBigIntegerField(_("views"), default=0, editable=False)

    content_panels = [
        *Page.content_panels,
        FieldPanel("date_published"),
        FieldPanel("teaser"),
        FieldPanel("image"),
        FieldPanel("body"),
    ]
    search_fields = [*Page.search_fields, index.SearchField("teaser"), index.SearchField("body")]

    parent_page_types = ["blog.BlogIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("blog post")
        verbose_name_plural = _("blog posts")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context.update(fragment_context(request), views_text=views_text(self.view_count))
        return context

    def serve(self, request, *args, **kwargs):
        # One more view of the live post (blog/view_counter.py: Redis, or an atomic UPDATE),
        # so concurrent views all count. Previews (and the admin) never get here.
        if request.method == "GET" and not getattr(request, "is_preview", False):
            self.view_count = count_view(self.pk)
            if uses_public_cache(request):
                mark_cacheable(request, post_id=self.pk)
        return super().serve(request, *args, **kwargs)

    def save(self, *args, **kwargs):
        # The count is only ever changed by an UPDATE of its own (view_count = view_count + 1).
        # A full save comes from an edit, a publish or a revert, and carries a count read
        # earlier (from a form or a revision): writing it would set the live count back.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name != "view_count"
            ]
        return super().save(*args, **kwargs)


def cacheable_page_number(request, paginator: Paginator) -> int | None:
    """The page of the list a request asks for, when it is one that exists and the request
    asks for nothing else; else None. Page 1 costs no query; a later one counts the posts."""
    query = request.META.get("QUERY_STRING", "")
    if not query:
        return 1
    if not PAGE_QUERY.fullmatch(query):
        return None
    number = int(query.removeprefix("page="))
    return number if number == 1 or number <= paginator.num_pages else None


def count_view(post_id: int) -> int:
    """One more view of a post, and the count to show (blog/view_counter.py)."""
    return view_counter.count_view(BlogPage, post_id)


def views_text(count: int) -> str:
    return ngettext("%(counter)s view", "%(counter)s views", count) % {"counter": count}


@live_part("post_id")
def fill_views(request, post_id) -> dict[str, str]:
    """A cached post's live part on a hit: its view count, counting this view."""
    return {"views": escape(views_text(count_view(post_id)))}
