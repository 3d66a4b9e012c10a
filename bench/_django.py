"""Shared set-up for benchmarks: Django with the test settings and a throw-away database
(SQLite in memory, or a `test_` database on the PostgreSQL of DATABASE_URL)."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_config.settings.test")


@contextmanager
def bench_database(*, keep: bool = False):
    """A migrated ``test_`` database for the benchmark; with ``keep``, the one a previous run
    kept (migrated forward) and kept again at the end."""
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=keep)
    try:
        yield connection
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=keep)
        teardown_test_environment()


def rss_now_kb() -> int:
    return _status_kb("VmRSS")


def rss_peak_kb() -> int:
    return _status_kb("VmHWM")


def reset_rss_peak() -> bool:
    """Reset the kernel's high-water mark of this process (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")
