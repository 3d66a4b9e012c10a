"""Configuration comes from the environment, in both modes: embedded default and services."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from site_config import env

# Every knob an operator sets (.env.example lists them all): a test here sets what it needs.
SERVICE_VARS = tuple(
    re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (settings.BASE_DIR / ".env.example").read_text(), re.M)
)

DUMP = """
import json, django
django.setup()
from django.conf import settings
from site_config.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "db_engine": db["ENGINE"], "db_name": str(db["NAME"]), "db_host": db.get("HOST", ""),
    "db_pool": db.get("OPTIONS", {}).get("pool"), "conn_max_age": db.get("CONN_MAX_AGE"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": str(settings.CACHES["default"]["LOCATION"]),
    "broker": app.conf.broker_url, "debug": settings.DEBUG,
    "email_host": settings.EMAIL_HOST, "email_port": settings.EMAIL_PORT,
    "email_timeout": settings.EMAIL_TIMEOUT, "from": settings.DEFAULT_FROM_EMAIL,
    "site_url": settings.SITE_URL, "hosts": settings.ALLOWED_HOSTS,
    "dispatch_interval": settings.MAILINGS_DISPATCH_INTERVAL,
    "session_secure": settings.SESSION_COOKIE_SECURE, "hsts": settings.SECURE_HSTS_SECONDS,
    "storage": settings.STORAGES["staticfiles"]["BACKEND"],
}))
"""


def load_settings(module: str, tmp_path: Path, **overrides: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    run_env = {**clean, "DJANGO_SETTINGS_MODULE": module, "VAR_DIR": str(tmp_path), **overrides}
    result = subprocess.run(
        [sys.executable, "-c", DUMP],
        cwd=settings.BASE_DIR,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(result.stderr)
    return json.loads(result.stdout)


def test_embedded_default_keeps_everything_under_var(tmp_path):
    loaded = load_settings("site_config.settings.dev", tmp_path)

    assert loaded["db_engine"] == "django.db.backends.sqlite3"
    assert loaded["db_name"] == str(tmp_path / "db.sqlite3")
    assert loaded["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert loaded["cache_location"] == str(tmp_path / "cache")
    assert loaded["broker"].startswith("filesystem://")
    assert loaded["debug"] is True
    assert (tmp_path / "broker" / "queue").is_dir()


def test_services_mode_uses_postgres_pool_and_redis(tmp_path):
    loaded = load_settings(
        "site_config.settings.dev",
        tmp_path,
        DATABASE_URL="postgres://mailer:secret@db.internal:5433/mailing",
        REDIS_URL="redis://cache.internal:6379/2",
    )

    assert loaded["db_engine"] == "django.db.backends.postgresql"
    assert loaded["db_host"] == "db.internal"
    assert loaded["db_pool"]["max_size"] >= 1
    assert loaded["conn_max_age"] == 0
    assert loaded["cache"] == "django_redis.cache.RedisCache"
    assert loaded["cache_location"] == "redis://cache.internal:6379/2"
    assert loaded["broker"] == "redis://cache.internal:6379/2"


def test_operator_variables_are_read(tmp_path):
    loaded = load_settings(
        "site_config.settings.dev",
        tmp_path,
        DEBUG="0",
        CELERY_BROKER_URL="amqp://guest@rabbit.internal//",
        REDIS_URL="redis://cache.internal:6379/0",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="2525",
        EMAIL_TIMEOUT="7",
        DEFAULT_FROM_EMAIL="News <news@example.org>",
        SITE_URL="https://mail.example.org/",
        ALLOWED_HOSTS="mail.example.org, www.example.org",
        MAILINGS_DISPATCH_INTERVAL="5",
    )

    assert loaded["debug"] is False
    assert loaded["broker"] == "amqp://guest@rabbit.internal//"
    assert (loaded["email_host"], loaded["email_port"], loaded["email_timeout"]) == (
        "smtp.example.org",
        2525,
        7,
    )
    assert loaded["from"] == "News <news@example.org>"
    assert loaded["site_url"] == "https://mail.example.org"
    assert loaded["hosts"] == ["mail.example.org", "www.example.org"]
    assert loaded["dispatch_interval"] == 5


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    with pytest.raises(AssertionError, match="SECRET_KEY must be set"):
        load_settings("site_config.settings.production", tmp_path)


def test_production_is_safe_by_default(tmp_path):
    loaded = load_settings(
        "site_config.settings.production",
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(64),
        DEBUG="1",
    )

    assert loaded["debug"] is False
    assert loaded["session_secure"] is True
    assert loaded["hsts"] >= 31_536_000
    assert loaded["storage"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


def test_production_passes_the_deploy_check(tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "site_config.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "mail.example.org",
            "DATABASE_URL": "postgres://mailer@127.0.0.1:5432/mailing",
            "VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_malformed_boolean_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("EMAIL_USE_TLS", "maybe")

    with pytest.raises(ImproperlyConfigured, match="EMAIL_USE_TLS='maybe' is not a boolean"):
        env.env_bool("EMAIL_USE_TLS")


def test_a_malformed_integer_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("EMAIL_PORT", "twenty-five")

    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT='twenty-five' is not an integer"):
        env.env_int("EMAIL_PORT", 25)


def test_database_url_must_be_postgres(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL"):
        env.database_config("mysql://root@localhost/mailing", tmp_path)


def test_prepared_statements_are_on_for_postgresql_unless_turned_off(tmp_path):
    """psycopg prepares only what a server-binding cursor runs (mailings.sql's send-loop
    statements); a pooler that cannot keep prepared statements turns it off."""
    url = "postgres://mailer@127.0.0.1:5432/mailing"
    assert env.database_config(url, tmp_path)["OPTIONS"]["prepare_threshold"] == 1
    assert "prepare_threshold" not in env.database_config(url, tmp_path, prepared=False)["OPTIONS"]
    assert "prepare_threshold" not in env.database_config("", tmp_path)["OPTIONS"]


def test_broker_falls_back_from_explicit_to_redis_to_filesystem():
    assert env.broker_url("amqp://x//", "redis://r/0") == "amqp://x//"
    assert env.broker_url("", "redis://r/0") == "redis://r/0"
    assert env.broker_url("", "").startswith("filesystem://")


def test_redis_visibility_timeout_exceeds_the_longest_retry_delay():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    redis_options = env.broker_transport_options(
        "redis://localhost:6379/0",
        settings.VAR_DIR,
        visibility_timeout=2 * settings.MAILINGS_RETRY_MAX_DELAY + settings.CELERY_TASK_TIME_LIMIT,
    )

    assert redis_options["visibility_timeout"] > settings.MAILINGS_RETRY_MAX_DELAY
    if settings.CELERY_BROKER_URL.startswith("redis"):
        assert options["visibility_timeout"] > settings.MAILINGS_RETRY_MAX_DELAY


def test_celery_reliability_defaults():
    from site_config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit > app.conf.task_soft_time_limit > 0
    assert "heartbeat" in app.conf.beat_schedule


def test_ci_runs_the_suite_with_every_operator_variable_exported():
    """`.ci/run`'s PostgreSQL pass exports every variable of .env.example (issue 21)."""
    script = (settings.BASE_DIR / ".ci" / "run").read_text()
    body = script.split("operator_env() {", 1)[1].split("\n}", 1)[0]
    exported = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", body))
    assert set(SERVICE_VARS) - exported == set()
    assert "operator_env make test" in script


ENTRY = """
import json, sys
import {module}
from django.conf import settings
print(json.dumps({{"module": settings.SETTINGS_MODULE, "debug": settings.DEBUG}}))
"""


@pytest.mark.parametrize("entry", ["site_config.wsgi", "site_config.celery"])
def test_production_entry_points_default_to_production_settings(tmp_path, entry):
    """Issue 15, item 12: gunicorn and Celery started without DJANGO_SETTINGS_MODULE are
    production processes: no public development key to forge links with, no DEBUG."""
    clean = {k: v for k, v in os.environ.items() if k not in (*SERVICE_VARS, "TEST_SETTINGS")}

    def start(**extra):
        code = ENTRY.format(module=entry)
        if entry == "site_config.celery":
            code = code.replace(
                "from django.conf", "import django; django.setup()\nfrom django.conf"
            )
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=settings.BASE_DIR,
            env={**clean, "VAR_DIR": str(tmp_path), **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    refused = start()
    assert refused.returncode != 0
    assert "SECRET_KEY must be set" in refused.stderr

    started = start(SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="mail.example.org")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) == {
        "module": "site_config.settings.production",
        "debug": False,
    }
