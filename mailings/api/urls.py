"""/api/v1/: the router's endpoints, the OpenAPI description and Swagger UI (served from
our own static files: drf-spectacular-sidecar)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from mailings.api import schema, views  # noqa: F401 - schema: its extension registers

router = DefaultRouter()
router.include_format_suffixes = False  # one URL per resource: JSON, or the browsable page
router.register("clients", views.ClientViewSet, basename="client")
router.register("lists", views.ClientListViewSet, basename="list")
router.register("messages", views.MessageViewSet, basename="message")
router.register("mailings", views.MailingViewSet, basename="mailing")
router.register("attempts", views.AttemptViewSet, basename="attempt")
router.register("deliveries", views.DeliveryViewSet, basename="delivery")

app_name = "api"
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]
