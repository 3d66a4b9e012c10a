"""The public home page, the root of the site's page tree."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.fields import RichTextField
from wagtail.models import Page


class HomePage(Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = ["blog.BlogIndexPage"]
    max_count = 1

    class Meta:
        verbose_name = _("home page")

    def serve(self, request, *args, **kwargs):
        from blog.caching import uses_public_cache
        from blog.page_cache import mark_cacheable

        if uses_public_cache(request):
            mark_cacheable(request, home=True)
        return super().serve(request, *args, **kwargs)

    def get_context(self, request, *args, **kwargs):
        from blog.caching import home_counters, random_post_cards

        context = super().get_context(request, *args, **kwargs)
        context["counters"] = home_counters(request)
        context["post_cards"] = random_post_cards(request)
        return context
