"""The Redis client a worker's parts share (rate-limit counters, live fan-out).

Its pool waits for a free connection (up to POOL_WAIT_SECONDS) instead of failing at once:
redis-py's default pool raises `MaxConnectionsError` as soon as its 100 connections are busy,
and each follower of a stream on another worker holds one for up to a second (XREAD BLOCK).
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

MAX_CONNECTIONS = 1000
POOL_WAIT_SECONDS = 5.0


def redis_client(url: str) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=POOL_WAIT_SECONDS,
        socket_timeout=5,
        socket_connect_timeout=2,
    )
    return Redis(connection_pool=pool)
