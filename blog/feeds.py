"""The blog's Atom feed (``/blog/feed/``, a route of the blog index): the latest published
posts, with title, teaser, date, image and link, through Django's syndication framework.
Only live, public posts of the index appear; the index's own privacy applies to the feed, as
Wagtail checks it before serving any of the page's routes."""

from __future__ import annotations

import mimetypes
from datetime import datetime, time

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Enclosure
from django.utils.html import format_html

FEED_SIZE = 20
FEED_IMAGE = "fill-1200x630"  # as the posts' Open Graph image


class LatestPostsFeed(Feed):
    feed_type = Atom1Feed

    def __call__(self, request, *args, **kwargs):
        self.request = request
        return super().__call__(request, *args, **kwargs)

    def get_object(self, request, index):
        return index

    def title(self, index) -> str:
        return index.seo_title or index.title

    # Links name the site's own address (the Wagtail Site, as the sitemap and the canonical
    # links do), whatever host the feed reader came in on.
    def link(self, index) -> str:
        return index.get_full_url(self.request)

    def subtitle(self, index) -> str:
        return index.search_description

    def author_name(self) -> str:
        return str(settings.WAGTAIL_SITE_NAME)

    def items(self, index):
        return index.posts()[:FEED_SIZE]

    def item_title(self, post) -> str:
        return post.title

    def item_link(self, post) -> str:
        return post.get_full_url(self.request)

    def item_description(self, post) -> str:
        rendition = self._image(post)
        image = (
            format_html('<p><img src="{}" alt=""></p>', self._absolute(rendition.url))
            if rendition
            else ""
        )
        teaser = format_html("<p>{}</p>", post.teaser) if post.teaser else ""
        return image + teaser

    def item_pubdate(self, post) -> datetime:
        return timezone.make_aware(datetime.combine(post.date_published, time.min))

    def item_updateddate(self, post) -> datetime | None:
        return post.last_published_at

    def item_enclosures(self, post) -> list[Enclosure]:
        rendition = self._image(post)
        if rendition is None:
            return []
        try:
            length = rendition.file.size
        except OSError:
            length = 0  # the file is gone from storage: still name the image
        kind = mimetypes.guess_type(rendition.file.name)[0] or "image/jpeg"
        return [Enclosure(self._absolute(rendition.url), str(length), kind)]

    def _image(self, post):
        if post.image is None:
            return None
        cached = getattr(post, "_feed_rendition", None)
        if cached is None:
            cached = post._feed_rendition = post.image.get_rendition(FEED_IMAGE)
        return cached

    def _absolute(self, url: str) -> str:
        if "://" in url:  # a storage that serves files from elsewhere
            return url
        return self.request.build_absolute_uri(url)
