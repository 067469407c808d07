"""The event log: numbers events, commits them in batches (group commit), then publishes them.

Every `append` goes to a queue. One writer task commits whatever has queued up in a single
transaction and only then hands the frames to live readers, so nothing a client has seen can be
lost with the process. A stream's finish (final message text, statuses) is committed in the same
transaction as its last events.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from chinwag.db.base import utcnow
from chinwag.db.bulk import insert_rows
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable
from chinwag.streams.ending import EndStatus, write_end
from chinwag.streams.events import StreamEvent as Event
from chinwag.streams.live import LiveStream
from chinwag.streams.models import StreamEvent
from chinwag.streams.sse import encode_frame

log = logging.getLogger(__name__)

EVENTS: Table = StreamEvent.__table__  # type: ignore[assignment]
EVENT_COLUMNS = ("stream_id", "seq", "type", "data", "created_at")
MAX_RETRY_DELAY_SECONDS = 2.0
ATTEMPTS_WHEN_CLOSING = 5


@dataclass(slots=True)
class Finish:
    """What a stream's last transaction writes besides its final events."""

    stream_id: str
    message_id: str
    status: EndStatus
    content: str
    usage: dict[str, Any] | None = None
    error_code: str | None = None
    bot_id: str | None = None
    route: dict[str, Any] | None = None
    citations: list[dict[str, Any]] | None = None
    flow_runs: list[dict[str, Any]] = field(default_factory=list)
    ttft_ms: float | None = None
    last_seq: int = 0  # set by StreamWriter.finish: the seq of stream.completed
    committed: asyncio.Future[None] = field(default_factory=lambda: _future())


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True)
class _Pending:
    live: LiveStream
    seq: int
    type: str
    data: str


class StreamWriter:
    """Appends events for one live stream; seqs are gap-free and start after the accepted ones."""

    def __init__(self, log: EventLog, live: LiveStream, next_seq: int) -> None:
        self._log = log
        self.live = live
        self.next_seq = next_seq

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def append(self, event: Event) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self._log.enqueue(_Pending(self.live, seq, event.type, event.model_dump_json()))
        return seq

    async def finish(self, final_events: list[Event], finish: Finish) -> None:
        """Append the final events and commit them together with `finish`; wait for the commit."""
        for event in final_events:
            self.append(event)
        finish.last_seq = self.last_seq
        self._log.enqueue_finish(self.live, finish)
        try:
            await finish.committed
        except DatabaseUnavailable as exc:
            # Dropped at shutdown: the row stays `streaming` and the next start (or another
            # server) marks it interrupted with the text that was committed.
            log.error("stream %s could not be finished: %s", self.live.stream_id, exc.message)


class EventLog:
    """Owns the writer task and the registry of streams live in this process."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: list[_Pending | tuple[LiveStream, Finish]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.live: dict[str, LiveStream] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chinwag-event-log")

    async def stop(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def open(self, stream_id: str, committed: list[bytes]) -> StreamWriter:
        """Register a stream whose first `len(committed)` events are already in the database."""
        live = LiveStream(stream_id, committed)
        self.live[stream_id] = live
        return StreamWriter(self, live, next_seq=len(committed) + 1)

    def enqueue(self, pending: _Pending) -> None:
        self._queue.append(pending)
        self._wake.set()

    def enqueue_finish(self, live: LiveStream, finish: Finish) -> None:
        self._queue.append((live, finish))
        self._wake.set()

    async def _run(self) -> None:
        delay, failures = 0.05, 0
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            batch, self._queue = self._queue, []
            try:
                await self._commit(batch)
            except Exception:
                failures += 1
                if self._closing and failures >= ATTEMPTS_WHEN_CLOSING:
                    # Not published, so no client saw them; the next start marks the
                    # streams interrupted with the text that was committed.
                    log.error("dropping %d stream log entries at shutdown", len(batch))
                    for item in batch:
                        if isinstance(item, tuple) and not item[1].committed.done():
                            item[1].committed.set_exception(
                                DatabaseUnavailable("the event log could not be committed")
                            )
                    return
                log.exception("committing %d stream log entries failed; retrying", len(batch))
                self._queue[:0] = batch
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
                continue
            delay, failures = 0.05, 0
            self._publish(batch)

    async def _commit(self, batch: list[_Pending | tuple[LiveStream, Finish]]) -> None:
        now = utcnow()
        rows = [
            (p.live.stream_id, p.seq, p.type, p.data, now) for p in batch if isinstance(p, _Pending)
        ]
        finishes = [item[1] for item in batch if isinstance(item, tuple)]
        async with self._db.write() as conn:
            if rows:
                await insert_rows(conn, EVENTS, EVENT_COLUMNS, rows)
            for f in finishes:
                await write_end(
                    conn,
                    stream_id=f.stream_id,
                    message_id=f.message_id,
                    status=f.status,
                    content=f.content,
                    last_seq=f.last_seq,
                    now=now,
                    usage=f.usage,
                    error_code=f.error_code,
                    route=f.route,
                    citations=f.citations,
                    flow_runs=f.flow_runs,
                    bot_id=f.bot_id,
                    ttft_ms=f.ttft_ms,
                )

    def _publish(self, batch: list[_Pending | tuple[LiveStream, Finish]]) -> None:
        touched: dict[str, tuple[LiveStream, list[bytes]]] = {}
        finished: list[tuple[LiveStream, Finish]] = []
        for item in batch:
            if isinstance(item, tuple):
                finished.append(item)
                continue
            entry = touched.setdefault(item.live.stream_id, (item.live, []))
            entry[1].append(encode_frame(item.seq, item.type, item.data))
        for live, frames in touched.values():
            live.publish(frames)
        for live, fin in finished:
            live.publish([], done=True)
            self.live.pop(live.stream_id, None)
            if not fin.committed.done():
                fin.committed.set_result(None)
