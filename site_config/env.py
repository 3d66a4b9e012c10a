"""Typed readers for environment variables and the service configs built from them.

Settings call these and nothing else touches ``os.environ``, so every knob an operator can
turn is visible in ``settings/base.py`` and listed in ``.env.example``. The builders are plain
functions of their inputs, which keeps both modes (embedded default and real services)
testable without reloading settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(database_url: str, var_dir: Path, *, prepared: bool = True) -> dict:
    """PostgreSQL with Django's psycopg 3 pool when a URL is given, else SQLite under var/
    (or at the path of a ``sqlite:///…`` URL). With ``prepared``, the send loop's statements
    are prepared once per connection (``mailings.sql``); off for a pooler that cannot keep
    them (PgBouncer before 1.21 in transaction mode)."""
    if not database_url or database_url.startswith("sqlite:"):
        path = urlsplit(database_url).path if database_url else ""
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(path) if path else var_dir / "db.sqlite3",
            # Keep the connection: closing the last one to a WAL database checkpoints and
            # syncs the file, which made every request pay about a millisecond.
            "CONN_MAX_AGE": None,
            # Web, worker and beat share the file: wait for the writer instead of failing.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    config = dj_database_url.parse(database_url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL must point at PostgreSQL (or sqlite:///path), got {config['ENGINE']!r}."
        )
    # Django's pool hands out connections itself, so persistent connections must stay off.
    config["CONN_MAX_AGE"] = 0
    config["OPTIONS"] = {
        **config.get("OPTIONS", {}),
        "pool": {"min_size": 1, "max_size": 10, "timeout": 10},
        "connect_timeout": 5,
    }
    if prepared:
        # Acts only on cursors that bind on the server, which only mailings.sql opens, for
        # its hot statements: Django's own cursors bind on the client and never prepare.
        config["OPTIONS"]["prepare_threshold"] = 1
    return config


def cache_config(redis_url: str, var_dir: Path) -> dict:
    """django-redis when Redis is configured, else a file cache all local processes share."""
    if not redis_url:
        return {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": var_dir / "cache",
            "TIMEOUT": 300,
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": redis_url,
        "TIMEOUT": 300,
        "OPTIONS": {
            # A cache that is down must cost a request seconds at most, never hang it.
            "SOCKET_CONNECT_TIMEOUT": 2,
            "SOCKET_TIMEOUT": 2,
        },
    }


def broker_url(explicit_url: str, redis_url: str) -> str:
    """``CELERY_BROKER_URL``, else ``REDIS_URL``, else kombu's filesystem transport."""
    return explicit_url or redis_url or "filesystem://localhost/"


def broker_transport_options(url: str, var_dir: Path, visibility_timeout: int) -> dict:
    scheme = urlsplit(url).scheme
    if scheme == "filesystem":
        queue = var_dir / "broker" / "queue"
        processed = var_dir / "broker" / "processed"
        return {
            # Broadcasts (worker control, used by `celery inspect`) would go to ./control.
            "control_folder": str(var_dir / "broker" / "control"),
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(processed),
            "store_processed": False,
        }
    if scheme in {"redis", "rediss"}:
        return {
            # Unacked messages go back to the queue after this long; it must exceed the
            # longest countdown a task is scheduled with, or a retry would run twice.
            "visibility_timeout": visibility_timeout,
            "socket_connect_timeout": 3,
            "socket_timeout": 5,
        }
    return {}


def result_backend(broker: str, redis_url: str, var_dir: Path) -> str:
    """Where the few tasks that return something keep it (most tasks ignore results)."""
    if urlsplit(broker).scheme in {"redis", "rediss"}:
        return broker
    if redis_url:
        return redis_url
    return (var_dir / "celery-results").as_uri()


def embedded_dirs(var_dir: Path) -> None:
    """Create the folders the embedded default writes to (database, cache, broker, mail)."""
    for sub in (
        "",
        "broker/queue",
        "broker/processed",
        "broker/control",
        "celery-results",
        "mail",
        "media",
    ):
        (var_dir / sub).mkdir(parents=True, exist_ok=True)
