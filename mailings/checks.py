"""Start-up checks (Django's system checks) of what the engine needs from its environment:
a SQLite recent enough for its statements, and leases that outlast a message's sending."""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.core import checks

from mailings.sql import SQLITE_MINIMUM

# A worker renews its lease every third of it, before a message; a message can take up to
# two timeouts (its envelope's replies, then the final one). Longer, and a lease could run
# out while its holder still sends, and another worker send the same message.
LEASE_TIMEOUTS = 3


@checks.register(checks.Tags.database)
def check_sqlite_version(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if sqlite3.sqlite_version_info >= SQLITE_MINIMUM:
        return []
    wanted = ".".join(map(str, SQLITE_MINIMUM))
    return [
        checks.Error(
            f"SQLite {sqlite3.sqlite_version} is too old: the embedded default needs {wanted} "  # noqa: S608
            "or later (UPDATE … FROM and RETURNING). Set DATABASE_URL to use PostgreSQL.",
            id="mailings.E001",
        )
    ]


@checks.register
def check_lease_outlasts_a_message(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    lease, timeout = settings.MAILINGS_LEASE_SECONDS, settings.EMAIL_TIMEOUT
    if lease > LEASE_TIMEOUTS * timeout:
        return []
    return [
        checks.Error(
            f"MAILINGS_LEASE_SECONDS={lease} must be more than {LEASE_TIMEOUTS} × "
            f"EMAIL_TIMEOUT={timeout}: a worker could lose the lease while it still sends, "
            "and another worker send the same messages again.",
            id="mailings.E002",
        )
    ]
