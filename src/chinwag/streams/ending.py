"""How a stream ends, in one place: its last events and the rows its end updates.

Used by the live path (a generation finishing, failing or being interrupted at shutdown), by
recovery (a stream orphaned by a dead server) and by the event log when the database refuses a
stream's events, so all leave the same log and the same rows.

Who may end a stream: the worker named in `streams.worker_id` while the row is `streaming`.
Ending a stream from its stored log (recovery, a refused log) locks the row first and names the
ending worker as the new `worker_id`, so the generating worker, when it comes back, finds out
that its stream was ended by someone else (see streams/log.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import FlowRun, Message
from chinwag.db.base import utcnow
from chinwag.errors import ChinwagError
from chinwag.streams.events import (
    CuratedMark,
    ErrorEvent,
    MessageCompleted,
    MessageDelta,
    Source,
    StreamCompleted,
    Usage,
)
from chinwag.streams.events import StreamEvent as Event
from chinwag.streams.models import Stream, StreamEvent

EndStatus = Literal["completed", "failed", "interrupted"]


def message_status(status: EndStatus) -> str:
    """The assistant message's status for a stream that ended with `status`."""
    return "complete" if status == "completed" else status


def ending_events(
    status: EndStatus,
    *,
    message_id: str,
    text: str,
    usage: Usage | None = None,
    error: ChinwagError | None = None,
    sources: list[Source] | None = None,
    curated: CuratedMark | None = None,
) -> list[Event]:
    """The last events of a stream: the answer (or the error), then stream.completed."""
    if error is None:
        last: Event = MessageCompleted(
            message_id=message_id, text=text, usage=usage, sources=sources or [], curated=curated
        )
    else:
        last = ErrorEvent(
            code=error.code, message=error.message, hint=error.hint, retryable=error.retryable
        )
    return [last, StreamCompleted(status=status)]


async def write_end(
    conn: AsyncConnection,
    *,
    stream_id: str,
    message_id: str,
    status: EndStatus,
    content: str,
    last_seq: int,
    now: datetime,
    usage: dict[str, Any] | None = None,
    error_code: str | None = None,
    route: dict[str, Any] | None = None,
    citations: list[dict[str, Any]] | None = None,
    flow_runs: list[dict[str, Any]] | None = None,
    bot_id: str | None = None,
    ttft_ms: float | None = None,
) -> None:
    """Record the end on the assistant message, its flow runs and the stream (in the caller's
    transaction)."""
    await conn.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(
            content=content,
            status=message_status(status),
            usage=usage,
            error_code=error_code,
            route=route,
            citations=citations,
            finished_at=now,
            ttft_ms=ttft_ms,
        )
    )
    if flow_runs:
        assert bot_id is not None, "flow runs are recorded per bot"
        await conn.execute(
            insert(FlowRun),
            [
                {**run, "message_id": message_id, "bot_id": bot_id, "created_at": now}
                for run in flow_runs
            ],
        )
    await conn.execute(
        update(Stream)
        .where(Stream.id == stream_id)
        .values(status=status, last_seq=last_seq, finished_at=now)
    )


async def end_from_stored_log(
    conn: AsyncConnection,
    stream_id: str,
    *,
    status: EndStatus,
    error: ChinwagError,
    ended_by: str | None,
) -> bool:
    """End a `streaming` stream with what the database holds: its committed text, then `error`
    and `stream.completed`. False if it already ended, is gone, or its owner is writing it now.

    The row is locked first (SKIP LOCKED: a row locked by its owner's event log is being
    written, so its owner is alive), and the log is read after the lock, so the ending always
    follows the last event the owner committed.
    """
    stream = (
        await conn.execute(
            select(Stream.message_id, Stream.status)
            .where(Stream.id == stream_id)
            .with_for_update(skip_locked=True)
        )
    ).first()
    if stream is None or stream.status != "streaming":
        return False
    events = (
        await conn.execute(
            select(StreamEvent.seq, StreamEvent.type, StreamEvent.data)
            .where(StreamEvent.stream_id == stream_id)
            .order_by(StreamEvent.seq)
        )
    ).all()
    text = "".join(
        MessageDelta.model_validate_json(e.data).text for e in events if e.type == "message.delta"
    )
    last_seq = events[-1].seq if events else 0
    final = ending_events(status, message_id=stream.message_id, text=text, error=error)
    now = utcnow()
    await conn.execute(
        insert(StreamEvent),
        [
            {
                "stream_id": stream_id,
                "seq": last_seq + i,
                "type": e.type,
                "data": e.model_dump_json(),
                "created_at": now,
            }
            for i, e in enumerate(final, start=1)
        ],
    )
    await write_end(
        conn,
        stream_id=stream_id,
        message_id=stream.message_id,
        status=status,
        content=text,
        last_seq=last_seq + len(final),
        now=now,
        error_code=error.code,
    )
    await conn.execute(update(Stream).where(Stream.id == stream_id).values(worker_id=ended_by))
    return True
