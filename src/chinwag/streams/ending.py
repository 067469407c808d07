"""How a stream ends, in one record: its last events and what its end writes.

`StreamEnd` is built by the generation (an answer finished, failed or was interrupted), by
recovery (a stream orphaned by a dead server) and by the event log (the database refused a
stream's events); `streams/store.py` writes its stream rows and the `RecordAnswer` hook
(conversations' service, wired in by the server) writes its message, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.errors import ChinwagError
from chinwag.providers.protocols import Usage
from chinwag.streams.events import (
    CuratedMark,
    ErrorEvent,
    MessageCompleted,
    Source,
    StreamCompleted,
)
from chinwag.streams.events import StreamEvent as Event

EndStatus = Literal["completed", "failed", "interrupted"]
DeclineReason = Literal["out_of_scope", "unanswerable"]


@dataclass(slots=True)
class StreamEnd:
    """What a stream's last transaction writes besides its final events."""

    stream_id: str
    message_id: str
    status: EndStatus
    content: str
    bot_id: str | None = None
    usage: Usage | None = None
    error_code: str | None = None
    route: dict[str, Any] | None = None
    citations: list[dict[str, Any]] | None = None
    flow_runs: list[dict[str, Any]] = field(default_factory=list)  # rows, one per flow run
    ttft_ms: float | None = None
    declined: DeclineReason | None = None  # the answer policy's reason, when it declined
    last_seq: int = 0  # the seq of stream.completed


# Records the end on the stream's message, in the caller's transaction, at `now`.
RecordAnswer = Callable[[AsyncConnection, StreamEnd, datetime], Awaitable[None]]


def ending_events(
    status: EndStatus,
    *,
    message_id: str,
    text: str,
    usage: Usage | None = None,
    error: ChinwagError | None = None,
    sources: list[Source] | None = None,
    curated: CuratedMark | None = None,
    declined: DeclineReason | None = None,
) -> list[Event]:
    """The last events of a stream: the answer (or the error), then stream.completed."""
    if error is None:
        last: Event = MessageCompleted(
            message_id=message_id,
            text=text,
            usage=usage,
            sources=sources or [],
            curated=curated,
            declined=declined,
        )
    else:
        last = ErrorEvent(
            code=error.code, message=error.message, hint=error.hint, retryable=error.retryable
        )
    return [last, StreamCompleted(status=status)]
