"""The service's own name and mark on every page, the admin's included (templates/wagtailadmin:
the sign-in page, the window title, the sidebar), in place of Wagtail's."""

from django.conf import settings


def service(request) -> dict:
    return {"service_name": settings.WAGTAIL_SITE_NAME}
