"""The test suite. Same services as configured (embedded default or real ones: DATABASE_URL,
REDIS_URL, CELERY_BROKER_URL), faster hashing, mail kept in memory unless a test sends through
a real SMTP server on loopback. Everything else a test depends on is pinned here, whatever an
operator's environment (.env.example) says: a test that needs another value sets it itself."""

import hashlib
import json

from django.utils.translation import gettext_lazy as _

from site_config.env import env_str

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, SECRET_KEY, VAR_DIR

DEBUG = False
SECRET_KEY = SECRET_KEY or "test-only-insecure-key"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
SITE_URL = "http://127.0.0.1:8000"
CSRF_TRUSTED_ORIGINS = [SITE_URL]
WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAIL_SITE_NAME = _("Mailing service")
TIME_ZONE = "UTC"
CELERY_TIMEZONE = TIME_ZONE
LANGUAGE_CODE = "en"
SERVE_MEDIA = False
MEDIA_ROOT = VAR_DIR / "media"
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
# The mail server: nothing listens on loopback port 1025 in a test unless the test starts it.
EMAIL_HOST, EMAIL_PORT = "127.0.0.1", 1025
EMAIL_HOST_USER = EMAIL_HOST_PASSWORD = ""
EMAIL_USE_TLS = EMAIL_USE_SSL = False
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = SERVER_EMAIL = "Mailing service <noreply@localhost>"
ACCOUNT_CONFIRMATION_DAYS = 3
LOGIN_FAILURE_LIMIT = 5
LOGIN_COOLOFF_SECONDS = 900
SIGNUP_LIMIT_PER_HOUR = 10
TRUSTED_PROXY_COUNT = 0
HOME_COUNTERS_TTL = 60
MAILINGS_DISPATCH_INTERVAL = 10
MAILINGS_RATE_LIMIT = 0.0
MAILINGS_RETRY_BASE_DELAY = 30
MAILINGS_RETRY_MAX_DELAY = 1800
MAILINGS_MAX_TRIES = 5
MAILINGS_CHUNK_SIZE = 100
MAILINGS_FLUSH_EVERY = 20
MAILINGS_LEASE_SECONDS = 15
MAILINGS_WORK_BUDGET = 60
MAILINGS_PARALLELISM = 2
MAILINGS_BREAKER_THRESHOLD = 5
MAILINGS_BREAKER_COOLDOWN = 60
MAILINGS_EXPORT_IN_BACKGROUND_FROM = 10_000
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Keep the test suite's cache entries and tasks apart from a running service sharing the
# same Redis, and from a second copy of the suite running at the same time (with its own
# VAR_DIR and database): the run's key is derived from its VAR_DIR.
RUN_KEY = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:10]
for _cache in CACHES.values():
    _cache["KEY_PREFIX"] = f"test-{RUN_KEY}"
# Processes that tests start (workers, beat) get a queue of their own through
# TEST_CELERY_QUEUE; an operator's CELERY_QUEUE is never the suite's.
CELERY_TASK_DEFAULT_QUEUE = env_str("TEST_CELERY_QUEUE", f"test-suite-{RUN_KEY}")

# Worker processes started by tests must see the test database: on SQLite it is a file.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

# Processes a test starts (workers, beat) get that test's settings here, as JSON in
# TEST_SETTINGS: the suite's own channel, which no operator environment sets.
for _name, _value in json.loads(env_str("TEST_SETTINGS") or "{}").items():
    if not _name.isupper():
        raise ValueError(f"TEST_SETTINGS names a setting that is not one: {_name!r}")
    globals()[_name] = _value
