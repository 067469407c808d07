"""HTTP routes for sending messages and reading them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from chinwag.conversations.access import visible_message
from chinwag.conversations.history import pending_actions
from chinwag.conversations.schemas import AcceptedOut, MessageIn, MessageOut
from chinwag.conversations.service import request_hash
from chinwag.generations import sending
from chinwag.generations.service import NewMessage
from chinwag.handoff.schemas import HeldOut
from chinwag.handoff.visitor import Held
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
from chinwag.streams.sse import SSEResponse
from chinwag.tools.decisions import Decision

router = APIRouter(prefix="/v1", tags=["messages"])

SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer as Server-Sent Events (see the StreamEvent schema).",
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/StreamEvent"}}},
    },
    202: {
        "model": AcceptedOut | HeldOut,
        "description": "With `Accept: application/json`: the ids. Always, when a person has "
        "the session (or is asked for): `HeldOut`, the message stored and no bot answer "
        "(`handoff` is the state; the person's reply comes on `events_url`).",
    },
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
    """Accept a message and stream its answer (SSE), or return the ids as JSON; while a person
    has the session, store it without an answer (202 `HeldOut`, whatever the Accept header).

    Admin and bot secret keys chat as any end user; an end-user token only as its own user.
    """
    accepted = await sending.send_or_hold(
        services.generations,
        services.limiter,
        principal,
        NewMessage(
            bot_id=bot_id,
            text=body.message,
            user_id=body.user_id,
            session_id=body.session_id,
            idempotency_key=idempotency_key,
            body_hash=request_hash(body.model_dump()) if idempotency_key else "",
            hold=True,
            decision=Decision(body.confirm.action_id, body.confirm.decision)
            if body.confirm is not None
            else None,
        ),
    )
    if isinstance(accepted, Held):
        held = HeldOut(
            bot_id=bot_id,
            user_id=accepted.user_id,
            session_id=accepted.session_id,
            user_message_id=accepted.user_message_id,
            handoff=accepted.state,
            events_url=f"/v1/bots/{bot_id}/sessions/{accepted.session_id}/events",
            replayed=accepted.replayed,
        )
        return Response(held.model_dump_json(), status_code=202, media_type="application/json")
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
    return SSEResponse(
        await services.follow(accepted.stream_id),
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
        pending = await pending_actions(conn, [message_id])
    return MessageOut.from_row(
        m, session_id=m["session_external_id"], pending_action=pending.get(message_id)
    )
