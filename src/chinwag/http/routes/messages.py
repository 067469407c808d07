"""HTTP routes for sending messages and reading them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from chinwag.conversations.access import visible_message
from chinwag.conversations.schemas import AcceptedOut, MessageIn, MessageOut
from chinwag.conversations.service import request_hash
from chinwag.errors import (
    Forbidden,
    SessionNotFound,
    SessionOwnedByAnotherUser,
    TooManyOpenStreams,
)
from chinwag.generations.service import NewMessage
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import Services, ServicesDep
from chinwag.streams.follow import open_stream
from chinwag.streams.sse import SSEResponse

router = APIRouter(prefix="/v1", tags=["messages"])

SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer as Server-Sent Events (see the StreamEvent schema).",
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}}},
    },
    202: {"model": AcceptedOut, "description": "With `Accept: application/json`: the ids."},
}


@router.post("/bots/{bot_id}/messages", responses=SSE_DOC, response_model=None)
async def send_message(
    bot_id: str,
    body: MessageIn,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response | SSEResponse:
    """Accept a message and stream its answer (SSE), or return the ids as JSON.

    Admin and bot secret keys chat as any end user; an end-user token only as its own user.
    """
    principal.require_bot(bot_id, kinds=("secret", "user"))
    user_id = body.user_id
    if principal.kind == "user":
        if user_id is not None and user_id != principal.user_id:
            raise Forbidden("an end-user token chats only as its own user; leave out user_id")
        user_id = principal.user_id
    if principal.kind != "admin":
        await limit_end_user(services, bot_id, user_id)
    try:
        accepted = await services.generations.accept(
            NewMessage(
                bot_id=bot_id,
                text=body.message,
                user_id=user_id,
                session_id=body.session_id,
                idempotency_key=idempotency_key,
                body_hash=request_hash(body.model_dump()) if idempotency_key else "",
            )
        )
    except SessionOwnedByAnotherUser as exc:
        if principal.kind == "user":  # another visitor's session must not be seen to exist
            raise SessionNotFound(f"session '{body.session_id}' does not exist") from exc
        raise
    out = AcceptedOut(
        bot_id=bot_id,
        user_id=accepted.user_id,
        session_id=accepted.session_id,
        user_message_id=accepted.user_message_id,
        assistant_message_id=accepted.assistant_message_id,
        stream_id=accepted.stream_id,
        stream_url=f"/v1/streams/{accepted.stream_id}/events",
        replayed=accepted.replayed,
    )
    if "application/json" in request.headers.get("accept", ""):
        return Response(out.model_dump_json(), status_code=202, media_type="application/json")
    source = await open_stream(
        db=services.db,
        event_log=services.event_log,
        stream_id=accepted.stream_id,
        after=0,
        heartbeat_seconds=services.settings.sse_heartbeat_seconds,
    )
    return SSEResponse(
        source,
        retry_ms=services.settings.sse_retry_ms,
        headers={
            "X-Chinwag-Stream-Id": accepted.stream_id,
            "X-Chinwag-Session-Id": accepted.session_id,
            "X-Chinwag-User-Id": accepted.user_id,
            "X-Chinwag-Replayed": "true" if accepted.replayed else "false",
        },
    )


@router.get("/messages/{message_id}", response_model=MessageOut)
async def get_message(
    message_id: str, services: ServicesDep, principal: PrincipalDep
) -> MessageOut:
    """One message with its status and final text (404 outside the caller's bot or user)."""
    principal.require_reader()
    async with services.db.read() as conn:
        m = await visible_message(conn, message_id, principal)
    return MessageOut.from_row(m, session_id=m["session_external_id"])


async def limit_end_user(services: Services, bot_id: str, user_id: str | None) -> None:
    """Messages per end user, and answers being written at once for them (429 beyond)."""
    if user_id is None:  # a new anonymous user has sent nothing yet
        return
    limits = await services.limiter.for_bot(bot_id)
    await services.limiter.hit(limits.per_user, "end user", bot_id, user_id)
    if services.generations.open_for(bot_id, user_id) >= limits.open_streams_per_user:
        raise TooManyOpenStreams(
            f"end user '{user_id}' already has {limits.open_streams_per_user} answers being "
            "written",
            retry_after=1,
        )
