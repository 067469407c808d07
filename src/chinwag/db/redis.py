"""The Redis client a worker's parts share (rate-limit counters, live fan-out).

Its pool waits for a free connection (up to POOL_WAIT_SECONDS) instead of failing at once:
redis-py's default pool raises `MaxConnectionsError` as soon as its 100 connections are busy,
and each follower of a stream on another worker holds one for up to a second (XREAD BLOCK).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)
MAX_CONNECTIONS = 1000
POOL_WAIT_SECONDS = 5.0
RETRY_SECONDS = 1.0  # after a failure, how long to leave Redis alone


def redis_client(url: str) -> Redis:
    # Imported here: a worker without CHINWAG_REDIS_URL never loads redis-py (~6 MB resident).
    from redis.asyncio import BlockingConnectionPool, Redis

    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        socket_timeout=5,
        socket_connect_timeout=2,
    )
    return Redis(connection_pool=pool)


def redis_errors() -> tuple[type[Exception], ...]:
    """What a Redis call that cannot be answered raises: redis-py's errors and the socket's."""
    from redis.exceptions import RedisError

    return (RedisError, OSError)


class RedisOutage:
    """What a part does while Redis does not answer: after a failure it leaves Redis alone for
    RETRY_SECONDS and uses its fallback (logged once, each failure counted), then tries again;
    the first success after a failure is logged too."""

    def __init__(
        self, *, fallback: str, back: str, count: Callable[[str], None] = lambda operation: None
    ) -> None:
        self._fallback = fallback  # e.g. "following streams from the database"
        self._back = back  # e.g. "following streams live through it"
        self._count = count
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, operation: str, exc: Exception) -> None:
        self._count(operation)
        if self.available:
            log.warning("redis %s failed (%s); %s", operation, exc, self._fallback)
        self._down_until = time.monotonic() + RETRY_SECONDS

    def recovered(self) -> None:
        if self._down_until:
            log.info("redis answers again; %s", self._back)
            self._down_until = 0.0
