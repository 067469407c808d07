"""How a stream ends, in one place: its last events and the rows its end updates.

Used by the live path (a generation finishing, failing or being interrupted at shutdown) and by
recovery (a stream orphaned by a dead server), so both leave the same log and the same rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import FlowRun, Message
from chinwag.errors import ChinwagError
from chinwag.streams.events import ErrorEvent, MessageCompleted, Source, StreamCompleted, Usage
from chinwag.streams.events import StreamEvent as Event
from chinwag.streams.models import Stream

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
) -> list[Event]:
    """The last events of a stream: the answer (or the error), then stream.completed."""
    if error is None:
        last: Event = MessageCompleted(
            message_id=message_id, text=text, usage=usage, sources=sources or []
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
