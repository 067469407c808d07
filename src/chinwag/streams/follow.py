"""Open a reader on a stream from a seq: from memory while it is live here, else the database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable, StreamEventsPurged, StreamNotFound
from chinwag.streams.events import TERMINAL_TYPE, LogEntry
from chinwag.streams.fanout import RedisFanout
from chinwag.streams.log import EventLog
from chinwag.streams.models import Stream
from chinwag.streams.sse import FrameSource
from chinwag.streams.store import events_after

POLL_SECONDS = 0.25
LIVE_WAIT_SECONDS = 1.0  # longest wait on Redis before looking at the database again
PAGE_SIZE = 500


async def open_stream(
    *,
    db: Database,
    event_log: EventLog,
    stream_id: str,
    after: int,
    heartbeat_seconds: float,
    fanout: RedisFanout | None = None,
) -> FrameSource:
    """A FrameSource from seq `after` (exclusive). 404 for unknown streams, 410 once purged."""
    live = event_log.live.get(stream_id)
    if live is not None:
        return live.follow(after, heartbeat_seconds)
    async with db.read() as conn:
        row = (
            await conn.execute(
                select(Stream.message_id, Stream.events_purged_at).where(Stream.id == stream_id)
            )
        ).first()
    if row is None:
        raise StreamNotFound(f"stream '{stream_id}' does not exist")
    if row.events_purged_at is not None:
        raise StreamEventsPurged(
            f"the events of stream '{stream_id}' were purged by retention",
            hint=f"Read the finished answer instead: GET /v1/messages/{row.message_id}",
            message_id=row.message_id,
        )
    # The stream may have gone live here between the two looks; prefer memory if so.
    live = event_log.live.get(stream_id)
    if live is not None:
        return live.follow(after, heartbeat_seconds)
    return DatabaseFollower(db, stream_id, after, heartbeat_seconds, fanout)


class DatabaseFollower:
    """Reads a stream written by another worker: its log in the database, then, with Redis,
    the live entries from the Redis stream (else polling the database).

    The database is read first, after a gap in what Redis gave, after a quiet wait (a stream
    ended by recovery is only in the database; so is an event whose worker died between its
    commit and its publication) and while Redis does not answer; the position only moves
    forward by one seq at a time, so nothing is skipped or repeated."""

    # How long Redis may stay quiet before the database is read again: an answer's stream
    # lasts seconds, so at every quiet wait; a long-lived log overrides it.
    quiet_database_seconds = 0.0

    def __init__(
        self,
        db: Database,
        stream_id: str,
        after: int,
        heartbeat_seconds: float,
        fanout: RedisFanout | None = None,
    ) -> None:
        self.db = db
        self.stream_id = stream_id
        self.position = max(after, 0)
        self.heartbeat_seconds = heartbeat_seconds
        self.fanout = fanout
        self._closed = asyncio.Event()
        self._gap = False  # Redis skipped a seq: the database has it

    async def entries(self) -> AsyncIterator[list[LogEntry]]:
        quiet_since = time.monotonic()
        read_database = True
        database_read_at = 0.0
        while not self._closed.is_set():
            if read_database:
                database_read_at = time.monotonic()
                try:
                    rows, finished = await self._next_page()
                except (DatabaseUnavailable, DBAPIError, OSError):
                    # The database is away: keep the reader (heartbeats below) and poll again;
                    # it resumes from its position when the database answers.
                    rows, finished = [], False
                if finished:
                    return
                if rows:
                    self.position = rows[-1].seq
                    yield [LogEntry.of(r.seq, r.type, r.data) for r in rows]
                    if rows[-1].type == TERMINAL_TYPE:
                        return
                    quiet_since = time.monotonic()
                    continue
            live = await self._live()
            read_database = (
                live is None
                or self._gap
                or (not live and time.monotonic() - database_read_at >= self.quiet_database_seconds)
            )
            if live:
                self.position = live[-1].seq
                yield live
                if live[-1].type == TERMINAL_TYPE:
                    return
                quiet_since = time.monotonic()
                continue
            if time.monotonic() - quiet_since >= self.heartbeat_seconds:
                quiet_since = time.monotonic()
                yield []
            if live is None:  # no Redis (or it is away): poll
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), POLL_SECONDS)

    async def _live(self) -> list[LogEntry] | None:
        """The next entries from Redis, in order and without a gap ([] after a quiet wait or a
        gap: read the database); None without Redis or while it does not answer."""
        if self.fanout is None:
            return None
        block_ms = int(min(self.heartbeat_seconds, LIVE_WAIT_SECONDS) * 1000)
        entries = await self.fanout.read(self.stream_id, self.position, block_ms)
        if entries is None:
            return None
        fresh: list[LogEntry] = []
        self._gap = False
        for entry in entries:
            if entry.seq <= self.position + len(fresh):
                continue
            if entry.seq != self.position + len(fresh) + 1:
                self._gap = True  # the database has what Redis lacks
                break
            fresh.append(entry)
        return fresh

    async def _next_page(self) -> tuple[list[Any], bool]:
        """Events after the position, and whether the stream has ended with nothing more."""
        async with self.db.read() as conn:
            rows = await events_after(conn, self.stream_id, self.position, limit=PAGE_SIZE)
            if rows:
                return list(rows), False
            status = (
                await conn.execute(select(Stream.status).where(Stream.id == self.stream_id))
            ).scalar()
            if status == "streaming":
                return [], False
            # Ended, but its last events may have been committed between the two reads (on
            # PostgreSQL each statement sees the latest commit): read them now.
            rows = await events_after(conn, self.stream_id, self.position, limit=PAGE_SIZE)
        return list(rows), not rows

    def close(self) -> None:
        self._closed.set()
