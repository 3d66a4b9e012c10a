"""Real processes for tests: a Celery worker, the mail sink, anything started from manage.py.

Each runs with the test settings and the same environment as the suite, so it talks to the
same database URL, cache and broker; output goes to a file the test can read on failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings as django_settings

PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Process:
    """A child process in its own session, so stopping it stops its children too."""

    def __init__(
        self, args: list[str], *, env: dict[str, str] | None = None, settings: dict | None = None
    ) -> None:
        """``settings`` override the test settings in the process (``TEST_SETTINGS``)."""
        self.args = args
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="proc-", suffix=".log", delete=False
        )
        full_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": django_settings.SETTINGS_MODULE,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
            "TEST_SETTINGS": json.dumps(settings or {}),
        }
        self.popen = subprocess.Popen(
            args,
            cwd=django_settings.BASE_DIR,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.alive():
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.log.close()
        return self.popen.returncode


def manage(*args: str, env: dict[str, str] | None = None) -> Process:
    return Process([PYTHON, "manage.py", *args], env=env)


def celery_worker(
    *,
    queue: str,
    env: dict[str, str] | None = None,
    settings: dict | None = None,
    name: str | None = None,
) -> Process:
    return Process(
        [
            str(BIN_DIR / "celery"),
            "-A",
            "site_config",
            "worker",
            "--pool=solo",
            f"--queues={queue}",
            f"--hostname={name or queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel=INFO",
        ],
        env={**(env or {}), "TEST_CELERY_QUEUE": queue},
        settings=settings,
    )


def database_url_for_processes() -> str:
    """A URL for the database this test run uses, for processes the tests start."""
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def celery_beat(
    *, schedule_file: str, env: dict[str, str] | None = None, settings: dict | None = None
) -> Process:
    return Process(
        [
            str(BIN_DIR / "celery"),
            "-A",
            "site_config",
            "beat",
            "--loglevel=INFO",
            f"--schedule={schedule_file}",
        ],
        env=env,
        settings=settings,
    )


def use_default_queue(name: str) -> None:
    """Make this process publish to another queue. Celery caches the routing it derived from
    the configuration, so the caches go too."""
    from site_config.celery import app

    app.conf.task_default_queue = name
    for cached in ("default_queue", "queues", "router", "send_task_message", "default_exchange"):
        app.amqp.__dict__.pop(cached, None)
