"""Settings for bench/send_throughput.py and bench/send_memory.py: the test settings, plus
django-post_office (the peer) when it is installed (``pip install -r requirements-bench.txt``)."""

from importlib.util import find_spec

from site_config.settings.test import *  # noqa: F403
from site_config.settings.test import INSTALLED_APPS

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

if find_spec("post_office"):
    INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]
    POST_OFFICE = {
        "BACKENDS": {"default": "django.core.mail.backends.smtp.EmailBackend"},
        "DEFAULT_PRIORITY": "medium",  # queued, sent by send_queued
    }
