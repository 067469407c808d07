"""Following a session's events: the stream follower's database-then-Redis reading, over the
session's log, which never ends (the widget keeps following while the page is open)."""

from __future__ import annotations

from typing import Any

from chinwag.db.uow import Database
from chinwag.handoff.service import events_after
from chinwag.handoff.wakeup import wake_handoff_jobs
from chinwag.streams.events import LogEntry
from chinwag.streams.fanout import RedisFanout
from chinwag.streams.follow import PAGE_SIZE, DatabaseFollower

# With Redis answering, how long a session's follower waits before it reads the database again:
# the longest an event whose worker died between its commit and its publication can be late.
QUIET_DATABASE_SECONDS = 10.0


def fanout_key(session_pk: str) -> str:
    """The session's id in the Redis fan-out (beside the streams' ids, which are UUIDs)."""
    return f"session-{session_pk}"


class SessionFollower(DatabaseFollower):
    """The session's committed events after a seq: from the database, then live from Redis
    (else by polling the database), in order, none skipped or repeated.

    A session's log stays open as long as a page does, and is quiet most of the time: with
    Redis answering, the database is read after QUIET_DATABASE_SECONDS of quiet rather than
    every second (an idle widget would otherwise cost its server a query a second)."""

    quiet_database_seconds = QUIET_DATABASE_SECONDS

    def __init__(
        self,
        db: Database,
        session_pk: str,
        after: int,
        heartbeat_seconds: float,
        fanout: RedisFanout | None = None,
    ) -> None:
        super().__init__(db, fanout_key(session_pk), after, heartbeat_seconds, fanout)
        self.session_pk = session_pk

    async def _next_page(self) -> tuple[list[Any], bool]:
        async with self.db.read() as conn:
            rows = await events_after(conn, self.session_pk, self.position, limit=PAGE_SIZE)
        return rows, False  # a session's log stays open


async def publish(fanout: RedisFanout | None, session_pk: str, entries: list[LogEntry]) -> None:
    """Hand committed events to followers on other workers (they poll without Redis); a
    conversation that started waiting wakes this worker's handoff jobs."""
    if any(entry.type == "handoff.waiting" for entry in entries):
        wake_handoff_jobs()
    if fanout is not None and entries:
        await fanout.publish({fanout_key(session_pk): entries}, set())
