"""Settings shared by every environment.

Every value an operator may change is read here, from the environment, through
``site_config.env``; ``.env.example`` lists them. ``dev``, ``test`` and ``production`` only
change defaults that suit them. Without ``DATABASE_URL`` / ``REDIS_URL`` the service runs on
the embedded default: SQLite, a file cache and kombu's filesystem broker, all under ``var/``.
"""

from pathlib import Path

from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from site_config import zones
from site_config.env import (
    broker_transport_options,
    broker_url,
    cache_config,
    database_config,
    embedded_dirs,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    result_backend,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var").resolve()
embedded_dirs(VAR_DIR)

# --- Core -----------------------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")

INSTALLED_APPS = [
    "accounts",
    "mailings",
    "home",
    "blog",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.embeds",
    "wagtail.search",
    "wagtail.contrib.routable_page",
    "wagtail.contrib.sitemaps",
    "django.contrib.sitemaps",
    "wagtail.sites",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "site_config.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserAdminGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so a cached page still gets every other middleware's headers.
    "site_config.public_cache.PublicPageCacheMiddleware",
]

ROOT_URLCONF = "site_config.urls"
WSGI_APPLICATION = "site_config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "site_config.branding.service",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        DATABASE_URL, VAR_DIR, prepared=env_bool("DATABASE_PREPARED_STATEMENTS", True)
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": cache_config(REDIS_URL, VAR_DIR)}
# Wagtail keeps image renditions in the cache named "renditions" when there is one, else in the
# default one, and fails with it. This one takes a failure for a miss (the rendition is read
# from the database), so an unreachable cache cannot break a page with an image: the same Redis
# with its errors ignored, else memory (docs/caching.md).
CACHES["renditions"] = (
    {**CACHES["default"], "OPTIONS": {**CACHES["default"]["OPTIONS"], "IGNORE_EXCEPTIONS": True}}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "renditions"}
)

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "wagtailadmin_login"
LOGIN_REDIRECT_URL = "wagtailadmin_home"
WAGTAILADMIN_USER_LOGIN_FORM = "accounts.forms.LoginForm"
# Password-reset mail goes out through the worker, and the requests are throttled.
WAGTAILADMIN_USER_PASSWORD_RESET_FORM = "accounts.forms.PasswordResetForm"  # noqa: S105
# The address is changed through accounts' own panel, which confirms the new one by a link.
WAGTAIL_EMAIL_MANAGEMENT_ENABLED = False
ACCOUNT_CONFIRMATION_DAYS = env_int("ACCOUNT_CONFIRMATION_DAYS", 3)
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)  # wrong passwords before a cool-off
LOGIN_COOLOFF_SECONDS = env_int("LOGIN_COOLOFF_SECONDS", 900)
SIGNUP_LIMIT_PER_HOUR = env_int("SIGNUP_LIMIT_PER_HOUR", 10)  # sign-ups and resends per address
# Reverse proxies in front of the web process that append the client's address to
# X-Forwarded-For (nginx: 1). 0: the client is REMOTE_ADDR, and X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Content-Security-Policy (site_config/csp.py adds what the Wagtail admin needs) -----------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Wagtail's dashboard would ask releases.wagtail.org for a newer version from the browser: a
# self-hosted service calls no third party (like the Gravatar setting below), and connect-src
# stays 'self'.
WAGTAIL_ENABLE_UPDATE_CHECK = False

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("ru", _("Russian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES
WAGTAIL_USER_TIME_ZONES = zones.SELECTABLE
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
SERVE_MEDIA = env_bool("SERVE_MEDIA", False)  # let Django serve /media/ without DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- E-mail -----------------------------------------------------------------------------------
# The default points at the local mail sink that `make run` starts (`manage.py mailsink`).
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Mailing service <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Wagtail ----------------------------------------------------------------------------------
# The service's name in the admin, the sign-in page and its mail: the operator's brand, or
# ours in the reader's language.
WAGTAIL_SITE_NAME = env_str("WAGTAIL_SITE_NAME") or _("Mailing service")
WAGTAILADMIN_BASE_URL = SITE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's "russian" text search stems Russian words with the Russian stemmer and
    # ASCII ones with the English one, so the blog's search finds both languages' word forms
    # (SQLite's FTS5 matches whole words, in any script, without stemming). docs/blog.md.
    WAGTAILSEARCH_BACKENDS["default"]["SEARCH_CONFIG"] = "russian"
WAGTAIL_I18N_ENABLED = False
# Self-hosted means no calls to third parties: no Gravatar avatars in the admin.
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILIMAGES_MAX_UPLOAD_SIZE = 10 * 1024 * 1024
WAGTAILDOCS_EXTENSIONS = ["csv", "pdf", "txt", "xlsx"]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Above Django's 2.5 MB: a message body over its own limit (1,000,000 characters, a form
# error that keeps the text) must reach the form, and the client picker posts up to
# 100,000 ids in one field. Past this the answer is a bare 400.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# `seed_demo` creates accounts with public passwords; production.py turns this off.
DEMO_DATA_ALLOWED = True

# --- Mailings ---------------------------------------------------------------------------------
MAILINGS_DISPATCH_INTERVAL = env_int("MAILINGS_DISPATCH_INTERVAL", 10)
MAILINGS_RATE_LIMIT = env_float("MAILINGS_RATE_LIMIT", 0.0)  # messages per second, 0 = none
MAILINGS_RETRY_MAX_DELAY = env_int("MAILINGS_RETRY_MAX_DELAY", 1800)
MAILINGS_RETRY_BASE_DELAY = env_int("MAILINGS_RETRY_BASE_DELAY", 30)
MAILINGS_MAX_TRIES = env_int("MAILINGS_MAX_TRIES", 5)  # per delivery, and per run's connection
MAILINGS_CHUNK_SIZE = env_int("MAILINGS_CHUNK_SIZE", 100)  # deliveries claimed at a time
MAILINGS_FLUSH_EVERY = env_int("MAILINGS_FLUSH_EVERY", 20)  # results written in bulk
MAILINGS_LEASE_SECONDS = env_int("MAILINGS_LEASE_SECONDS", 15)
MAILINGS_WORK_BUDGET = env_int("MAILINGS_WORK_BUDGET", 60)  # seconds a task sends, then requeues
MAILINGS_PARALLELISM = env_int("MAILINGS_PARALLELISM", 2)  # chunk tasks sharing one run
MAILINGS_BREAKER_THRESHOLD = env_int("MAILINGS_BREAKER_THRESHOLD", 5)
MAILINGS_BREAKER_COOLDOWN = env_int("MAILINGS_BREAKER_COOLDOWN", 60)
# Domains a user's sender address may be at (the domains the operator signs mail for, and
# their subdomains); empty: any (docs/composing.md, "Senders").
MAILINGS_SENDER_DOMAINS = [d.lower().rstrip(".") for d in env_list("MAILINGS_SENDER_DOMAINS", [])]
# Audiences (docs/audiences.md): soft bounces in a row that make a client bounced; sign-ups
# through a list's form per address and per IP an hour; days a confirmation link works.
MAILINGS_SOFT_BOUNCE_LIMIT = env_int("MAILINGS_SOFT_BOUNCE_LIMIT", 3)
# Exports of this many rows or more are written by a worker, with a download link when
# ready (docs/jobs.md); smaller ones are answered at once.
MAILINGS_EXPORT_IN_BACKGROUND_FROM = env_int("MAILINGS_EXPORT_IN_BACKGROUND_FROM", 10_000)
SUBSCRIBE_LIMIT_PER_HOUR = env_int("SUBSCRIBE_LIMIT_PER_HOUR", 3)
SUBSCRIBE_IP_LIMIT_PER_HOUR = env_int("SUBSCRIBE_IP_LIMIT_PER_HOUR", 20)
SUBSCRIBE_CONFIRMATION_DAYS = env_int("SUBSCRIBE_CONFIRMATION_DAYS", 7)
# Bounces mailed back (VERP): the envelope sender becomes bounces+<signed id>@<domain> of
# this address; empty: DEFAULT_FROM_EMAIL's address, and only refusals during the SMTP
# conversation are seen. The mailbox it delivers to, read by process_bounces: a Maildir
# path or imap(s)://user:password@host[:port]/folder.
MAILINGS_BOUNCE_ADDRESS = env_str("MAILINGS_BOUNCE_ADDRESS", "")
MAILINGS_BOUNCE_MAILBOX = env_str("MAILINGS_BOUNCE_MAILBOX", "")
MAILINGS_BOUNCE_INTERVAL = env_int("MAILINGS_BOUNCE_INTERVAL", 300)  # seconds between reads
HOME_COUNTERS_TTL = env_int("HOME_COUNTERS_TTL", 60)

# --- API (docs/api.md) ---------------------------------------------------------------------
API_RATE_LIMIT = env_str("API_RATE_LIMIT", "600/min")  # requests per token
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mailings.api.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browsable pages, CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "mailings.api.paging.Cursor",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["mailings.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_RATE_LIMIT},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mailings.api.errors.handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mailing service API",
    "DESCRIPTION": "Clients, lists, messages, mailings and their runs. docs/api.md",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["mailings.api.schema.only_the_api"],
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = broker_url(env_str("CELERY_BROKER_URL"), REDIS_URL)
# The queue web, beat and workers share; another name keeps a second installation (or the
# test suite) on the same broker apart.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    CELERY_BROKER_URL,
    VAR_DIR,
    # Above the longest countdown (a retry's delay) plus the time a task may run.
    visibility_timeout=2 * MAILINGS_RETRY_MAX_DELAY + CELERY_TASK_TIME_LIMIT,
)
CELERY_RESULT_BACKEND = result_backend(CELERY_BROKER_URL, REDIS_URL, VAR_DIR)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A task is acknowledged after it ran, and put back if its worker died: tasks are idempotent
# and the database decides what is left to do.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# The web side publishes after commit; a broker that is down must not hang a request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.utils.autoreload": {"level": "WARNING"},
        # Wagtail runs its index updates as django-tasks; one line per task is noise.
        "django_tasks": {"level": "WARNING"},
        # aiosmtpd logs every SMTP command; mailsink logs one line per message instead.
        "mail.log": {"level": "WARNING"},
    },
}
