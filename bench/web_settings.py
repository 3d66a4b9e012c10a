"""Settings for bench/web.py: the test settings, plus a trivial view to compare against."""

from site_config.settings.test import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.web_urls"
