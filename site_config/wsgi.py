"""WSGI entry point (gunicorn site_config.wsgi). Production settings unless told otherwise:
they refuse to start without a SECRET_KEY (development runs through manage.py / make run)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings.production")

application = get_wsgi_application()
