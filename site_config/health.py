"""``/healthz``: can this process reach its database, cache and broker?

Each check answers within a few seconds and reports its failure as which service is down
("cache unreachable"), never where it is or what it said: the endpoint is public, and an
exception's text names internal hosts, ports and folders. That detail goes to the log, for the
operator.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from site_config.celery import HEARTBEAT_CACHE_KEY, app
from site_config.degraded import warn_once


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    value = cache.get(key)
    cache.delete(key)
    if value != "1":
        raise RuntimeError("a value written to the cache could not be read back")


def check_broker() -> None:
    url = app.conf.broker_url
    if urlsplit(url).scheme == "filesystem":
        folder = app.conf.broker_transport_options.get("data_folder_in", "")
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            raise RuntimeError(f"broker folder {folder!r} is missing or not writable")
        return
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
        channel = conn.default_channel
        client = getattr(channel, "client", None)
        if client is not None and hasattr(client, "ping"):
            client.ping()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure is a reason, not a 500
            # Load balancers probe every few seconds: one line per service per interval.
            warn_once(
                f"healthz-{name}",
                "healthz: %s is unavailable: %s: %s",
                name,
                type(exc).__name__,
                exc,
            )
            results[name] = {"ok": False, "error": f"{name} unreachable"}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.monotonic() - started) * 1000, 1)
    return results


def worker_heartbeat_age() -> float | None:
    """Seconds since beat and a worker last ran the heartbeat task (informative only)."""
    try:
        last = cache.get(HEARTBEAT_CACHE_KEY)
    except Exception:  # noqa: BLE001 - the cache check already reports this
        return None
    return None if last is None else round(time.time() - float(last), 1)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    healthy = all(result["ok"] for result in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": checks,
        "worker_heartbeat_age": worker_heartbeat_age() if checks["cache"]["ok"] else None,
    }
    return JsonResponse(body, status=200 if healthy else 503)
