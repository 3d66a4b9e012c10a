"""Start-up checks (Django's system checks) of what the engine needs from its environment:
a SQLite recent enough for its statements, and leases long enough to be renewed in time."""

from __future__ import annotations

import sqlite3

from django.conf import settings
from django.core import checks

from mailings.sql import SQLITE_MINIMUM

# A worker's lease keeper (queue.Keeper) renews its lease when a third of it has gone, looking
# every sixth: whatever the mail server makes the send loop wait for. Shorter than this, and a
# busy database could let a lease run out while its holder still sends.
MINIMUM_LEASE = 6


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
def check_lease_is_renewable(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    lease = settings.MAILINGS_LEASE_SECONDS
    if lease >= MINIMUM_LEASE:
        return []
    return [
        checks.Error(
            f"MAILINGS_LEASE_SECONDS={lease} must be at least {MINIMUM_LEASE}: a worker could "
            "lose the lease while it still sends, and another worker send the same messages "
            "again.",
            id="mailings.E002",
        )
    ]
