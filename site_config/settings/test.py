"""The test suite. Same services as configured (embedded default or real ones), faster hashing,
mail kept in memory unless a test sends through a real SMTP server on loopback."""

import hashlib

from site_config.env import env_str

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, SECRET_KEY, VAR_DIR

DEBUG = False
SECRET_KEY = SECRET_KEY or "test-only-insecure-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Keep the test suite's cache entries and tasks apart from a running service sharing the
# same Redis, and from a second copy of the suite running at the same time (with its own
# VAR_DIR and database): the run's key is derived from its VAR_DIR.
RUN_KEY = hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:10]
CACHES["default"]["KEY_PREFIX"] = f"test-{RUN_KEY}"
# Workers that tests start set CELERY_QUEUE to a queue of their own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", f"test-suite-{RUN_KEY}")

# Worker processes started by tests must see the test database: on SQLite it is a file.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
