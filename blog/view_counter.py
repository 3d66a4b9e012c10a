"""A blog post's views (docs/caching.md, "View counter").

With Redis (the default cache is django-redis), a view is one ``INCR`` of the post's pending
count and a ``GET`` of its stored count, in one round trip: no database write, no row lock,
however many read a popular post at once. The page shows stored + pending. Every few seconds
a beat task (``flush``) moves the pending counts into the database in one statement:
``GETDEL`` takes each count from Redis once, whoever else flushes at the same time, then one
``UPDATE … SET view_count = view_count + n`` adds them all and gives the new stored counts
back to Redis.

Without Redis (the embedded default), or with Redis unreachable, a view is today's single
``UPDATE … RETURNING`` in the database, and the fallback is logged once a minute.

What can be lost: the pending counts if Redis loses its data between two flushes (at most
``FLUSH_SECONDS`` of views), and a flush's counts if the database refuses its statement
after Redis gave them up (they are given back to Redis; lost only if that fails too). A view
may count twice if Redis stops answering in the middle of its round trip.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from mailings import sql
from site_config.degraded import warn_once

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0
STORED_SECONDS = 24 * 3600  # a stored count Redis keeps without a flush refreshing it
SCAN_BATCH = 500


def _redis():
    """The raw Redis client of the default cache, or None when the cache is not Redis."""
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis."):
        return None
    return get_redis_connection("default")


def _prefix() -> str:
    # Under the cache's own key prefix (a test run's own, an operator's KEY_PREFIX), and one
    # namespace per database: two sites, or two test runs, sharing a Redis database never
    # add their views to each other's posts, nor find counts left by an earlier run.
    name = settings.DATABASES["default"]["NAME"]
    return caches["default"].make_key(f"blog:views:{name}:")


def count_view(model, post_id: int) -> int:
    """One more view of a post (a row of ``model``), and the count to show with it."""
    client = _redis()
    if client is not None:
        try:
            return _count_in_redis(client, model, post_id)
        except RedisError as exc:
            warn_once(
                "blog-views",
                "views are counted in the database: Redis is not reachable (%s)",
                exc,
            )
    return sql.increment_returning(model, post_id, "view_count") or 0


def _count_in_redis(client, model, post_id: int) -> int:
    prefix = _prefix()
    pipe = client.pipeline(transaction=False)
    pipe.incr(f"{prefix}pending:{post_id}")
    pipe.get(f"{prefix}stored:{post_id}")
    pending, stored = pipe.execute()
    if stored is None:
        stored = model.objects.filter(pk=post_id).values_list("view_count", flat=True).first()
        stored = stored or 0
        client.set(f"{prefix}stored:{post_id}", stored, ex=STORED_SECONDS, nx=True)
    return int(stored) + int(pending)


def flush(model) -> int:
    """Move the pending counts into ``model``'s rows; how many views were moved."""
    client = _redis()
    if client is None:
        return 0
    prefix = _prefix()
    moved: dict[int, int] = {}
    keys: list[bytes] = []
    try:
        for key in client.scan_iter(match=f"{prefix}pending:*", count=SCAN_BATCH):
            keys.append(key)
            if len(keys) >= SCAN_BATCH:
                _take(client, keys, moved)
                keys = []
        _take(client, keys, moved)
    except RedisError as exc:
        warn_once("blog-views-flush", "views not flushed: Redis is not reachable (%s)", exc)
        _give_back(client, moved)
        return 0
    if not moved:
        return 0
    try:
        stored = sql.add_to_rows(model, "view_count", moved)
    except DatabaseError:
        logger.exception("views not flushed: the database refused them; given back to Redis")
        _give_back(client, moved)
        connection.close_if_unusable_or_obsolete()
        return 0
    try:
        pipe = client.pipeline(transaction=False)
        for post_id, count in stored:
            pipe.set(f"{prefix}stored:{post_id}", count, ex=STORED_SECONDS)
        pipe.execute()
    except RedisError as exc:  # the counts are in the database: only the display lags
        warn_once("blog-views-flush", "stored views not refreshed in Redis (%s)", exc)
    return sum(moved.values())


def _take(client, keys: list[bytes], moved: dict[int, int]) -> None:
    """``GETDEL`` each key: a count goes to this flusher or to another, never to both."""
    if not keys:
        return
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.getdel(key)
    for key, value in zip(keys, pipe.execute(), strict=True):
        if value:
            post_id = int(key.rsplit(b":", 1)[1])
            moved[post_id] = moved.get(post_id, 0) + int(value)


def _give_back(client, moved: dict[int, int]) -> None:
    if not moved:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for post_id, count in moved.items():
            pipe.incrby(f"{_prefix()}pending:{post_id}", count)
        pipe.execute()
    except RedisError:
        logger.exception("%s views lost: neither the database nor Redis took them", moved)
