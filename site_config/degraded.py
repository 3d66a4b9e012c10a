"""Running degraded: when a shared service (the cache, the broker, the mail server) is away,
the code that can do without it goes on, and says so in the log once per interval per topic
rather than once per request (a busy site would otherwise write thousands of identical lines).
Process-local: each web or worker process logs its own first failure."""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("site_config.degraded")

INTERVAL = 60.0
_last: dict[str, float] = {}
_lock = threading.Lock()


def warn_once(topic: str, message: str, *args, interval: float = INTERVAL) -> bool:
    """Log ``message % args`` as a warning unless ``topic`` was logged in the last ``interval``
    seconds in this process. Returns whether it was logged."""
    now = time.monotonic()
    with _lock:
        last = _last.get(topic)
        if last is not None and now - last < interval:
            return False
        _last[topic] = now
    logger.warning(message, *args)
    return True


def forget() -> None:
    """Start every topic afresh (tests)."""
    with _lock:
        _last.clear()
