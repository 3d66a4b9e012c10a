"""The public home page, the root of the site's page tree."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page

from blog.cards import random_post_cards
from home.counters import home_counters
from site_config.public_cache import live_part, mark_cacheable, uses_public_cache


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
