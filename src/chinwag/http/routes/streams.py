"""HTTP route for following (and resuming) a stream's events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from chinwag.conversations.access import visible_stream
from chinwag.errors import InvalidRequest
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
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
    principal.require_reader()
    await visible_stream(services.db, stream_id, principal)
    position = after or 0
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidRequest(
                f"Last-Event-ID must be an event seq (a number), got '{last_event_id}'",
                hint="Send back the `id:` of the last event you received.",
            )
        position = int(last_event_id)
    return SSEResponse(
        await services.follow(stream_id, position), retry_ms=services.settings.sse_retry_ms
    )
