"""The blog: one index page under the home page, posts only under the index. The index also
answers the blog's search (``?q=``) and its Atom feed (``feed/``, blog/feeds.py)."""

import re
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.db import models
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.panels import FieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path
from wagtail.fields import RichTextField
from wagtail.models import Page
from wagtail.search import index

from blog import view_counter
from blog.feeds import LatestPostsFeed
from site_config.public_cache import (
    PAGE_QUERY,
    fragment_context,
    live_part,
    mark_cacheable,
    mark_query_cacheable,
    uses_public_cache,
)

SEARCH_MAX_LENGTH = 100
WORD = re.compile(r"\w+")


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search the blog"),
        max_length=SEARCH_MAX_LENGTH,
        required=False,
        error_messages={
            "max_length": _("Search for at most %(limit_value)d characters."),
        },
    )

    def clean_q(self) -> str:
        # One spelling per search: the one the cache stores and the page's links write.
        return " ".join(self.cleaned_data["q"].split())


class BlogIndexPage(RoutablePageMixin, Page):
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

    @path("feed/", name="feed")
    def feed(self, request):
        return LatestPostsFeed()(request, index=self)

    def feed_url(self, request=None) -> str:
        return self.get_url(request) + self.reverse_subpage("feed").lstrip("/")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        search = SearchForm(request.GET if "q" in request.GET else None)
        query = search.cleaned_data["q"] if search.is_bound and search.is_valid() else ""
        posts = self.posts()
        if query:
            # Found by Wagtail's search (title, teaser, body), most relevant first, by words
            # only: punctuation separates words in the index too, and a quote or a bracket is
            # not for the search engine to parse (SQLite's FTS5 fails on an unpaired quote).
            words = " ".join(WORD.findall(query))
            posts = posts.search(words, operator="and") if words else posts.none()
        paginator = Paginator(posts, self.posts_per_page)
        asked = request.GET.get("page")
        # Built only when the cached fragment has to be rendered: a warm cache costs no
        # query for the list (even building ``.public()`` reads the view restrictions).
        context["posts"] = SimpleLazyObject(lambda: paginator.get_page(asked))
        context.update(fragment_context(request))
        own_query = urlencode({"q": query}) + "&" if query else ""
        number = cacheable_page_number(request, paginator, own_query)
        if number is None:
            # Not a query string this page's own links write (a typo, a page past the end,
            # a search spelled another way, anything else): shown as Paginator.get_page()
            # shows it, never cached, so no visitor can add a cache entry per value they make
            # up.
            context["public_cache"] = False
        elif request.META.get("QUERY_STRING"):
            mark_query_cacheable(request, request.META["QUERY_STRING"])
        if query:
            # Search results are kept whole by the page cache (within its budget), never as
            # a fragment of their own.
            context["public_cache"] = False
        canonical = self.get_full_url(request)
        if number and number > 1 and not query:
            canonical += f"?page={number}"
        context.update(
            page_number=number,
            search_form=search,
            query=query,
            page_query=own_query,
            canonical_url=canonical,
            feed_url=self.feed_url(request),
        )
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


def cacheable_page_number(request, paginator: Paginator, own_query: str = "") -> int | None:
    """The page of the list a request asks for, when it is one that exists and the query
    string is exactly what the page's own links write (``own_query``: the search, if any, as
    ``q=…&``, then ``page=N``, or nothing for page 1); else None. Page 1 costs no query; a
    later one counts the posts."""
    query = request.META.get("QUERY_STRING", "")
    if query == own_query.removesuffix("&"):
        return 1
    rest = query.removeprefix(own_query)
    if not query.startswith(own_query) or not PAGE_QUERY.fullmatch(rest):
        return None
    number = int(rest.removeprefix("page="))
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
