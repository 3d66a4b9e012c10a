"""The public home page, the root of the site's page tree."""

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from blog.cards import random_post_cards
from site_config.public_cache import (
    CACHE_ERRORS,
    cache_failed,
    live_part,
    mark_cacheable,
    uses_public_cache,
)

COUNTERS_KEY = "public:home:counters"
COUNTER_NAMES = ("mailings", "active", "clients")


class HomePage(Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["blog.BlogIndexPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def serve(self, request, *args, **kwargs):
        if uses_public_cache(request):
            mark_cacheable(request, home=True)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["counters"] = home_counters(request)
        context["post_cards"] = random_post_cards(request)
        return context


@live_part("home")
def fill_home(request, _value) -> dict[str, str]:
    """The home page's live parts on a cached hit: the counters and three random posts."""
    values = {f"counter-{name}": str(n) for name, n in home_counters(request).items()}
    values["random-posts"] = random_post_cards(request)
    return values


class ServiceCounters(models.Model):
    """The home page's figures as the beat last computed them (home/counters.py): one row,
    read by a visitor's request with one lookup, never computed in it."""

    mailings = models.PositiveBigIntegerField(default=0)
    active = models.PositiveBigIntegerField(default=0)
    clients = models.PositiveBigIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("service counters")
        verbose_name_plural = _("service counters")

    def __str__(self) -> str:
        return f"{self.mailings} / {self.active} / {self.clients}"


def stored_counters() -> dict[str, int]:
    """The counters as last computed (zeros before the first time)."""
    row = ServiceCounters.objects.filter(pk=1).values(*COUNTER_NAMES).first()
    return row or dict.fromkeys(COUNTER_NAMES, 0)


def home_counters(request) -> dict[str, int]:
    """The counters for a page: from the public cache when the request may use it, else
    the stored row. Never an aggregate: home/counters.py computes them off the request."""
    if uses_public_cache(request):
        try:
            return cache.get_or_set(COUNTERS_KEY, stored_counters, settings.HOME_COUNTERS_TTL)
        except CACHE_ERRORS as error:
            cache_failed(request, error)
    return stored_counters()
