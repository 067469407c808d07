"""Live fan-out through Redis Streams (`CHINWAG_REDIS_URL`): followers on other workers get a
stream's events as they are committed instead of polling the database.

Redis holds nothing the database does not. The event log appends each committed entry to the
Redis stream `chinwag:events:<stream id>` with the event's seq as its id (`<seq>-0`), trims it to
a bounded length and lets it expire after the stream ends. A follower catches up from the
database, then reads Redis from its cursor with XREAD BLOCK; an entry past a gap (trimmed, or
appended while Redis was away) sends it back to the database first, so it never skips or
repeats an event. While Redis does not answer, publishing is skipped and followers poll the
database (logged once, and counted); both recover when Redis answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chinwag.db.redis import RedisOutage, redis_client, redis_errors
from chinwag.streams.events import LogEntry

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

MAXLEN = 2000  # entries kept per stream in Redis; a follower further behind reads the database
EXPIRE_SECONDS = 300  # after a stream's end


def stream_key(stream_id: str) -> str:
    return f"chinwag:events:{stream_id}"


@dataclass(slots=True)
class FanoutMetrics:
    """Callbacks the fan-out reports to (Prometheus counters in the server)."""

    redis_failed: Callable[[str], None] = lambda operation: None


class RedisFanout:
    """One Redis client for a worker: the event log publishes, followers read."""

    def __init__(self, url: str, *, metrics: FanoutMetrics | None = None) -> None:
        self.redis: Redis = redis_client(url)
        self._errors = redis_errors()
        self.outage = RedisOutage(
            fallback="following streams from the database",
            back="following streams live through it",
            count=(metrics or FanoutMetrics()).redis_failed,
        )

    async def publish(self, entries: dict[str, list[LogEntry]], ended: set[str]) -> None:
        """Append committed entries (per stream, in seq order); expire the streams that ended."""
        if not entries and not ended:
            return
        if not self.outage.available:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for stream_id, batch in entries.items():
                    key = stream_key(stream_id)
                    for entry in batch:
                        pipe.xadd(
                            key,
                            {"t": entry.type, "d": entry.data},
                            id=f"{entry.seq}-0",
                            maxlen=MAXLEN,
                            approximate=True,
                        )
                for stream_id in ended:
                    pipe.expire(stream_key(stream_id), EXPIRE_SECONDS)
                await pipe.execute(raise_on_error=False)
        except Exception as exc:  # never the event log's failure: its commit has happened
            self.outage.failed("publish", exc)
            return
        self.outage.recovered()

    async def read(self, stream_id: str, after: int, block_ms: int) -> list[LogEntry] | None:
        """Entries after seq `after`, waiting up to `block_ms`; None if Redis cannot answer."""
        if not self.outage.available:
            return None
        try:
            found: Any = await self.redis.xread(
                {stream_key(stream_id): f"{after}-0"}, count=500, block=block_ms
            )
        except self._errors as exc:
            self.outage.failed("read", exc)
            return None
        self.outage.recovered()
        entries: list[LogEntry] = []
        for _key, items in found or []:
            for entry_id, fields in items:
                seq = int(_text(entry_id).split("-", 1)[0])
                entries.append(LogEntry.of(seq, _text(fields[b"t"]), _text(fields[b"d"])))
        return entries

    async def aclose(self) -> None:
        await self.redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
