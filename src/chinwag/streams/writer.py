"""What the event log queues for one stream: numbered events and the stream's end.

`StreamWriter` numbers a live stream's events (gap-free, after the accepted ones) and hands
them to the `EventLog`, which commits them in batches (streams/log.py); an answer's first
token and its end are marked urgent (streams/pacing.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chinwag.errors import DatabaseUnavailable
from chinwag.streams.ending import StreamEnd
from chinwag.streams.events import StreamEvent as Event
from chinwag.streams.live import LiveStream

if TYPE_CHECKING:
    from chinwag.streams.log import EventLog

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PendingEvent:
    writer: StreamWriter
    seq: int
    type: str
    data: str


@dataclass(slots=True)
class PendingFinish:
    writer: StreamWriter
    end: StreamEnd
    # True once written by this worker; False if the stream was ended elsewhere.
    committed: asyncio.Future[bool] = field(default_factory=lambda: _future())


def _future() -> asyncio.Future[bool]:
    return asyncio.get_running_loop().create_future()


Queued = PendingEvent | PendingFinish


@dataclass(slots=True)
class LogMetrics:
    """Callbacks the log reports to (Prometheus counters in the server)."""

    committed: Callable[[], None] = lambda: None
    commit_failed: Callable[[], None] = lambda: None
    retried: Callable[[], None] = lambda: None
    stream_ended_elsewhere: Callable[[str], None] = lambda reason: None


class StreamWriter:
    """Appends events for one live stream; seqs are gap-free and start after the accepted ones."""

    def __init__(self, event_log: EventLog, live: LiveStream, next_seq: int) -> None:
        self._log = event_log
        self.live = live
        self.next_seq = next_seq
        self.ended_elsewhere = False
        self.answering = False  # its first message.delta is queued
        self.on_ended_elsewhere: Callable[[], object] | None = None
        # Stops the generation (it ends `interrupted`): the log holds too much it cannot commit.
        self.on_backlog_full: Callable[[], object] | None = None

    @property
    def stream_id(self) -> str:
        return self.live.stream_id

    @property
    def last_seq(self) -> int:
        return self.next_seq - 1

    def append(self, event: Event) -> int:
        """Queue one event; a no-op once the stream was ended elsewhere."""
        seq = self.next_seq
        if self.ended_elsewhere:
            return seq
        self.next_seq += 1
        # The first token is committed at once: group commit never delays time to first token.
        first_token = not self.answering and event.type == "message.delta"
        self.answering = self.answering or first_token
        self._log.enqueue(
            PendingEvent(self, seq, event.type, event.model_dump_json()), urgent=first_token
        )
        return seq

    async def finish(self, final_events: list[Event], end: StreamEnd) -> None:
        """Append the final events and commit them together with `end`; wait for the commit."""
        self.on_backlog_full = None  # nothing more to stop: the ending is being queued
        if self.ended_elsewhere:
            return
        for event in final_events:
            self.append(event)
        end.last_seq = self.last_seq
        pending = PendingFinish(self, end)
        self._log.enqueue(pending, urgent=True)  # the answer's last words wait for nothing
        try:
            await pending.committed
        except DatabaseUnavailable as exc:
            # Dropped at shutdown: the row stays `streaming` and the next start (or another
            # server) marks it interrupted with the text that was committed.
            log.error("stream %s could not be finished: %s", self.stream_id, exc.message)


def discard_unwritten(items: list[Queued]) -> None:
    """Items of a stream ended elsewhere: never written; a finish waiting on them is told so."""
    for item in items:
        if isinstance(item, PendingFinish):
            resolve_finish(item, False)


def resolve_finish(finish: PendingFinish, written_here: bool) -> None:
    if not finish.committed.done():
        finish.committed.set_result(written_here)
