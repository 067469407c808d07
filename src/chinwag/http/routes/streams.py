"""HTTP route for following (and resuming) a stream's events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sqlalchemy import select

from chinwag.auth.principal import Principal
from chinwag.conversations.models import ChatSession, EndUser, Message
from chinwag.errors import InvalidRequest, StreamNotFound
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import Services, ServicesDep
from chinwag.streams.follow import open_stream
from chinwag.streams.models import Stream
from chinwag.streams.sse import SSEResponse

router = APIRouter(prefix="/v1", tags=["streams"])

EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Events after the given seq, then live ones until `stream.completed`.",
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}}},
    },
}


@router.get(
    "/streams/{stream_id}/events",
    responses=EVENTS_DOC,
    response_model=None,
    response_class=SSEResponse,
)
async def stream_events(
    stream_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[int | None, Query(ge=0, description="Resume after this seq.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> SSEResponse:
    """Replay a stream's events after `Last-Event-ID` (or `?after=N`), then follow it live."""
    await _require_visible(services, principal, stream_id)
    position = after or 0
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidRequest(
                f"Last-Event-ID must be an event seq (a number), got '{last_event_id}'",
                hint="Send back the `id:` of the last event you received.",
            )
        position = int(last_event_id)
    source = await open_stream(
        db=services.db,
        event_log=services.event_log,
        stream_id=stream_id,
        after=position,
        heartbeat_seconds=services.settings.sse_heartbeat_seconds,
    )
    return SSEResponse(source, retry_ms=services.settings.sse_retry_ms)


async def _require_visible(services: Services, principal: Principal, stream_id: str) -> None:
    """404 unless the stream belongs to the caller's bot (and end user, for tokens)."""
    principal.require_reader()
    if principal.kind == "admin":
        return  # open_stream says 404 for unknown streams
    async with services.db.read() as conn:
        row = (
            await conn.execute(
                select(ChatSession.bot_id, EndUser.external_id)
                .select_from(Stream)
                .join(Message, Message.id == Stream.message_id)
                .join(ChatSession, ChatSession.id == Message.session_id)
                .join(EndUser, EndUser.id == ChatSession.user_id)
                .where(Stream.id == stream_id)
            )
        ).first()
    if row is None or not principal.may_read(bot_id=row[0], user_id=row[1]):
        raise StreamNotFound(f"stream '{stream_id}' does not exist")
