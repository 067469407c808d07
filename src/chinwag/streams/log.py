"""The event log: numbers events, commits them in batches (group commit), then publishes them.

Every `append` goes to a queue. One writer task commits whatever has queued up in a single
transaction and only then hands the frames to live readers, so nothing a client has seen can be
lost with the process. A stream's finish (final message text, statuses) is committed in the same
transaction as its last events. When the batch is due is streams/pacing.py's (the commit
interval: an answer's first token and its end at once, the rest at most one interval late).

Each batch first locks the rows of its streams and writes only the streams this worker still
owns (`status = 'streaming'` and `worker_id` = this worker). That one rule settles the cases a
plain retry gets wrong:
- a COMMIT whose acknowledgement was lost is retried; rows that did land are skipped (events
  are keyed by (stream, seq)), a finish that landed is recognised by the row it left;
- a stream another server ended (recovery after a missed heartbeat) is not written again: its
  generation is stopped and its local readers get the ending stored in the database;
- a batch the database refuses while it answers is split per stream, so one stream's bad write
  ends that stream (`stream_log_failed`) and never holds back the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.db.base import utcnow
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable, StreamLogFailed
from chinwag.streams.ending import RecordAnswer
from chinwag.streams.events import LogEntry
from chinwag.streams.fanout import RedisFanout
from chinwag.streams.live import LiveStream
from chinwag.streams.pacing import CommitPacing
from chinwag.streams.store import (
    append_events,
    end_from_stored_log,
    events_after,
    lock_streams,
    write_end,
)
from chinwag.streams.writer import (
    LogMetrics,
    PendingEvent,
    PendingFinish,
    Queued,
    StreamWriter,
    discard_unwritten,
    resolve_finish,
)

log = logging.getLogger(__name__)

FIRST_RETRY_DELAY_SECONDS = 0.05
MAX_RETRY_DELAY_SECONDS = 2.0
ATTEMPTS_WHEN_CLOSING = 5
ATTEMPTS_PER_STREAM = 2  # a stream the database refuses twice while it answers is ended


class EventLog:
    """Owns the writer task and the registry of streams live in this process."""

    def __init__(
        self,
        db: Database,
        *,
        worker_id: str,
        record_answer: RecordAnswer,
        metrics: LogMetrics | None = None,
        fanout: RedisFanout | None = None,
        max_backlog: int = 20_000,
        commit_interval: float = 0.0,
    ) -> None:
        self._db = db
        self._pacing = CommitPacing(commit_interval)
        self._max_backlog = max_backlog
        self._fanout = fanout
        self.fanout = fanout  # also carries session events (chinwag.handoff.follow)
        self._worker_id = worker_id
        self._record_answer = record_answer
        self._metrics = metrics or LogMetrics()
        self._queue: list[Queued] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._check_ownership = False
        self._failing_since: float | None = None
        self._last_error = ""
        self.live: dict[str, LiveStream] = {}
        self._writers: dict[str, StreamWriter] = {}
        self._unended: dict[str, StreamLogFailed] = {}  # refused, and their ending refused too

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chinwag-event-log")

    async def stop(self) -> None:
        """Commit what is queued, then stop the writer."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def open(self, stream_id: str, committed: list[LogEntry]) -> StreamWriter:
        """Register a stream whose first `len(committed)` events are already in the database."""
        live = LiveStream(stream_id, committed)
        writer = StreamWriter(self, live, next_seq=len(committed) + 1)
        self.live[stream_id] = live
        self._writers[stream_id] = writer
        return writer

    def enqueue(self, item: Queued, *, urgent: bool = False) -> None:
        """Queue an item; an `urgent` one (a first token, an ending) is committed at once."""
        self._queue.append(item)
        if self._pacing.queued(urgent=urgent):
            self._wake.set()

    def stalled_for(self) -> float:
        """Seconds since the log last failed to commit without succeeding since; 0 if healthy."""
        if self._failing_since is None:
            return 0.0
        return time.monotonic() - self._failing_since

    def health(self) -> dict[str, Any]:
        """For /readyz: whether the log commits, and if not, since when and why."""
        if self._failing_since is None:
            return {"ok": True, "backlog": len(self._queue)}
        return {
            "ok": False,
            "failing_for_seconds": round(self.stalled_for(), 1),
            "error": self._last_error,
            "backlog": len(self._queue),
            "hint": "The event log cannot commit to the database; answers wait in memory and "
            "are written when it answers again. Check CHINWAG_DATABASE_URL and the database.",
        }

    async def notice_ended_elsewhere(self) -> None:
        """Ask the writer to check, with its next batch, that every live stream is still ours
        (a stream waiting on a slow LLM writes nothing that would find out otherwise)."""
        if self.live or self._unended:
            self._check_ownership = True
            if self._pacing.queued(urgent=False):  # with the next batch: no commit of its own
                self._wake.set()

    async def _run(self) -> None:
        delay, failures = FIRST_RETRY_DELAY_SECONDS, 0
        while True:
            if not self._queue and not self._check_ownership:
                if self._closing:
                    return
                self._pacing.taken()  # items dropped from the queue (a stream ended elsewhere)
                await self._wake.wait()
                self._wake.clear()
                continue
            wait = 0.0 if self._closing else self._pacing.due_in()
            if wait > 0:
                await self._nap(wait)
                continue
            self._pacing.taken()
            batch, self._queue = self._queue, []
            check, self._check_ownership = self._check_ownership, False
            extra = set(self._writers) if check else set()
            if check and self._unended:
                await self._end_unended()
            try:
                await self._write(batch, extra)
            except Exception as exc:
                self._commit_failed(exc)
                if await self._reachable():
                    # The database answers but refused this batch: find the stream(s) at fault.
                    batch = await self._write_each_stream(batch)
                if batch:  # the database is unreachable: keep the batch, ahead of newer items
                    failures += 1
                    if self._closing and failures >= ATTEMPTS_WHEN_CLOSING:
                        self._drop_at_shutdown(batch + self._queue)
                        return
                    self._queue[:0] = batch
                    self._pacing.put_back()
                    self._check_ownership = self._check_ownership or check
                    if len(self._queue) > self._max_backlog:
                        self._stop_generations()
                    self._metrics.retried()
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
                    continue
            delay, failures = FIRST_RETRY_DELAY_SECONDS, 0
            if self._failing_since is not None and not self._unended:
                log.warning("the stream log commits again after %.1f s", self.stalled_for())
                self._failing_since = None

    async def _nap(self, seconds: float) -> None:
        """Sleep until the queued items are due, or until something must be written sooner
        (an urgent item, an ownership check, shutdown)."""
        self._wake.clear()
        timer = asyncio.get_running_loop().call_later(seconds, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    def _stop_generations(self) -> None:
        """Memory is bounded while the database is away: past `max_backlog` queued items the
        running generations stop; their endings (`interrupted`) wait in the queue with them."""
        stopping = [w for w in self._writers.values() if w.on_backlog_full is not None]
        if not stopping:
            return
        log.error(
            "the stream log holds %d entries it cannot commit (CHINWAG_EVENT_LOG_MAX_BACKLOG "
            "%d): interrupting %d answer(s); they are written when the database answers",
            len(self._queue),
            self._max_backlog,
            len(stopping),
        )
        for writer in stopping:
            stop, writer.on_backlog_full = writer.on_backlog_full, None
            if stop is not None:
                stop()

    def _commit_failed(self, exc: Exception) -> None:
        self._metrics.commit_failed()
        self._last_error = f"{type(exc).__name__}: {exc}"
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("committing the stream log failed (%s); retrying", self._last_error)

    async def _reachable(self) -> bool:
        try:
            async with self._db.read() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def _write_each_stream(self, batch: list[Queued]) -> list[Queued]:
        """Write each stream's items on their own; end the streams the database refuses.
        Returns what is left to retry if the database stops answering on the way."""
        groups: dict[str, list[Queued]] = {}
        for item in batch:
            groups.setdefault(item.writer.stream_id, []).append(item)
        ids = list(groups)
        for i, stream_id in enumerate(ids):
            for attempt in range(ATTEMPTS_PER_STREAM):
                try:
                    await self._write(groups[stream_id], set())
                    break
                except Exception as exc:
                    self._commit_failed(exc)
                    if not await self._reachable():
                        return [item for sid in ids[i:] for item in groups[sid]]
                    if attempt + 1 == ATTEMPTS_PER_STREAM:
                        await self._abandon(groups[stream_id][0].writer, exc)
                        discard_unwritten(groups[stream_id])
                    else:
                        await asyncio.sleep(FIRST_RETRY_DELAY_SECONDS)
        return []

    async def _write(self, batch: list[Queued], extra: set[str]) -> None:
        """One transaction: lock the batch's streams, write the ones still ours, then publish."""
        items = [item for item in batch if not item.writer.ended_elsewhere]
        discard_unwritten([item for item in batch if item.writer.ended_elsewhere])
        ids = sorted({item.writer.stream_id for item in items} | extra)
        if not ids:
            return
        async with self._db.write() as conn:
            owners = await lock_streams(conn, ids)
            mine = {sid for sid, (status, owner) in owners.items() if owner == self._worker_id}
            streaming = {sid for sid in mine if owners[sid][0] == "streaming"}
            # A finish that landed before its acknowledgement was lost: written by us already.
            done_by_us = mine - streaming
            lost = [sid for sid in ids if sid not in mine and sid in self._writers]
            await self._insert(conn, [i for i in items if i.writer.stream_id in streaming])
            stored = await self._stored_endings(conn, lost)
        self._metrics.committed()
        written = streaming | done_by_us
        entries, ended = self._publish([i for i in items if i.writer.stream_id in written])
        if self._fanout is not None:  # other workers' followers, after the commit
            await self._fanout.publish(entries, ended)
        for stream_id in lost:
            reason = "deleted" if stream_id not in owners else "ended_elsewhere"
            self._end_locally(stream_id, stored.get(stream_id, []), reason)
        discard_unwritten([item for item in items if item.writer.ended_elsewhere])

    async def _insert(self, conn: AsyncConnection, items: list[Queued]) -> None:
        now = utcnow()
        await append_events(
            conn,
            [
                (p.writer.stream_id, p.seq, p.type, p.data, now)
                for p in items
                if isinstance(p, PendingEvent)
            ],
        )
        for item in items:
            if isinstance(item, PendingFinish):
                await write_end(conn, item.end, now, self._record_answer)

    async def _stored_endings(
        self, conn: AsyncConnection, stream_ids: list[str]
    ) -> dict[str, list[LogEntry]]:
        """The entries of streams ended elsewhere that this process's readers have not seen."""
        frames: dict[str, list[LogEntry]] = {}
        for stream_id in stream_ids:
            rows = await events_after(conn, stream_id, len(self.live[stream_id].entries))
            frames[stream_id] = [LogEntry.of(r.seq, r.type, r.data) for r in rows]
        return frames

    async def _abandon(self, writer: StreamWriter, exc: Exception) -> None:
        """The database refuses this stream's events: end it as failed with what it holds."""
        stream_id = writer.stream_id
        log.error("the database refused the events of stream %s; ending it: %s", stream_id, exc)
        error = StreamLogFailed(f"this answer could not be stored: {type(exc).__name__}")
        try:
            async with self._db.write() as conn:
                await self._end_failed(conn, stream_id, error)
                stored = await self._stored_endings(conn, [stream_id])
        except Exception as end_exc:
            # Its row stays `streaming`; this log stays unhealthy (readyz 503, no heartbeat past
            # the grace period, so doctor reports it) and tries again at every heartbeat.
            log.error("stream %s could not be ended either (%s); trying again", stream_id, end_exc)
            self._unended[stream_id] = error
            self._last_error = f"stream {stream_id} cannot be ended: {end_exc}"
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            stored = {}
        self._end_locally(stream_id, stored.get(stream_id, []), "log_failed")

    async def _end_failed(
        self, conn: AsyncConnection, stream_id: str, error: StreamLogFailed
    ) -> None:
        await end_from_stored_log(
            conn,
            stream_id,
            status="failed",
            error=error,
            ended_by=self._worker_id,
            record_answer=self._record_answer,
        )

    async def _end_unended(self) -> None:
        """Try again to end the streams whose refused log could not be ended."""
        for stream_id, error in list(self._unended.items()):
            try:
                async with self._db.write() as conn:
                    await self._end_failed(conn, stream_id, error)
            except Exception as exc:
                self._last_error = f"stream {stream_id} cannot be ended: {exc}"
                continue
            log.warning("stream %s ended as failed after its log was refused", stream_id)
            del self._unended[stream_id]

    def _end_locally(self, stream_id: str, frames: list[LogEntry], reason: str) -> None:
        """Stop a stream this worker no longer writes: readers get the stored ending."""
        writer = self._writers.pop(stream_id, None)
        live = self.live.pop(stream_id, None)
        if writer is None or live is None:
            return
        log.warning("stream %s was ended outside this worker (%s)", stream_id, reason)
        self._metrics.stream_ended_elsewhere(reason)
        writer.ended_elsewhere = True
        live.publish(frames, done=True)
        discard_unwritten([item for item in self._queue if item.writer is writer])
        self._queue = [item for item in self._queue if item.writer is not writer]
        if writer.on_ended_elsewhere is not None:
            writer.on_ended_elsewhere()

    def _publish(self, items: list[Queued]) -> tuple[dict[str, list[LogEntry]], set[str]]:
        """Hand committed entries to this process's readers; returns them per stream, and the
        streams that ended."""
        touched: dict[str, tuple[LiveStream, list[LogEntry]]] = {}
        finished: list[PendingFinish] = []
        for item in items:
            if isinstance(item, PendingFinish):
                finished.append(item)
                continue
            live = item.writer.live
            entry = touched.setdefault(live.stream_id, (live, []))
            entry[1].append(LogEntry.of(item.seq, item.type, item.data))
        for live, frames in touched.values():
            live.publish(frames)
        for ending in finished:
            stream_id = ending.writer.stream_id
            ending.writer.live.publish([], done=True)
            self.live.pop(stream_id, None)
            self._writers.pop(stream_id, None)
            resolve_finish(ending, True)
        entries = {live.stream_id: published for live, published in touched.values()}
        return entries, {ending.writer.stream_id for ending in finished}

    def _drop_at_shutdown(self, items: list[Queued]) -> None:
        # Not published, so no client saw them; the next start marks the streams interrupted
        # with the text that was committed.
        log.error("dropping %d stream log entries at shutdown", len(items))
        for item in items:
            if isinstance(item, PendingFinish) and not item.committed.done():
                item.committed.set_exception(
                    DatabaseUnavailable("the event log could not be committed")
                )
