from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from mailings.views import sender_confirm, subscribe, subscribe_confirm, unsubscribe
from site_config.health import healthz
from site_config.seo import favicon, robots_txt, sitemap

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("robots.txt", robots_txt, name="robots_txt"),
    path("sitemap.xml", sitemap, name="sitemap"),
    path("favicon.ico", favicon, name="favicon"),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
    path("senders/confirm/<str:token>/", sender_confirm, name="sender_confirm"),
    path("subscribe/confirm/<str:token>/", subscribe_confirm, name="subscribe_confirm"),
    path("subscribe/<str:token>/", subscribe, name="subscribe"),
    path("api/v1/", include("mailings.api.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
]

if settings.DEBUG or settings.SERVE_MEDIA:
    # Uploaded images; in a larger deployment the reverse proxy serves /media/ instead.
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]

# Wagtail serves every other path from the page tree; it must come last.
urlpatterns += [path("", include(wagtail_urls))]
