"""HTTP routes over stored conversations: sessions, messages, feedback, deletion, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from chinwag.auth.principal import Principal, PrincipalKind
from chinwag.bots.service import get_bot
from chinwag.conversations import history
from chinwag.conversations.erase import delete_session, erase_user
from chinwag.conversations.history_schemas import (
    DeletedOut,
    FeedbackIn,
    FeedbackOut,
    MessagePage,
    SessionOut,
    SessionPage,
    TicketOfferOut,
)
from chinwag.conversations.schemas import MessageOut
from chinwag.db.base import utcnow
from chinwag.db.uow import Database
from chinwag.errors import NotFound
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
from chinwag.timestamps import as_utc

router = APIRouter(prefix="/v1", tags=["conversations"])
ExternalId = Annotated[
    str, Query(min_length=1, max_length=EXTERNAL_ID_MAX_LENGTH, pattern=EXTERNAL_ID_PATTERN)
]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=40, pattern=r"^[0-9]+$")]
READERS: tuple[PrincipalKind, ...] = ("secret", "user")


def _own_user(principal: Principal, user_id: str | None) -> str | None:
    """End-user tokens see only their own user, whatever they ask for."""
    return principal.user_id if principal.kind == "user" else user_id


@router.get("/bots/{bot_id}/sessions", response_model=SessionPage)
async def sessions(
    bot_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    user_id: ExternalId | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> SessionPage:
    """The bot's sessions (or one end user's), newest first; a token sees its own."""
    principal.require_bot(bot_id, kinds=READERS)
    user_id = _own_user(principal, user_id)
    offset = int(cursor or 0)
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        rows = await history.list_sessions(conn, bot_id, user_id, offset=offset, limit=limit + 1)
    page = [
        SessionOut(
            id=r.external_id,
            user_id=r.user_external_id,
            message_count=r.message_count,
            created_at=r.created_at,
            last_message_at=r.last_message_at,
        )
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return SessionPage(sessions=page, next_cursor=str(offset + limit) if more else None)


@router.get("/bots/{bot_id}/sessions/{session_id}/messages", response_model=MessagePage)
async def session_messages(
    bot_id: str,
    session_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> MessagePage:
    """A session's messages in order; `next_cursor` continues after the last one returned.
    An answer whose confirmation is still unanswered carries it (`pending_action`)."""
    principal.require_bot(bot_id, kinds=READERS)
    after = int(cursor or 0)
    async with services.db.read() as conn:
        session = await history.visible_session(conn, principal, bot_id, session_id)
        rows = await history.session_messages(conn, session.id, after=after, limit=limit + 1)
        pending = await history.pending_actions(conn, [m.id for m in rows[:limit]])
        offer = await history.pending_ticket_offer(conn, session.id)
    page = [
        MessageOut.from_row(m._mapping, session_id=session_id, pending_action=pending.get(m.id))
        for m in rows[:limit]
    ]
    more = len(rows) > limit
    return MessagePage(
        messages=page,
        next_cursor=str(rows[limit - 1].position) if more else None,
        ticket_offer=TicketOfferOut.model_validate(offer) if offer is not None else None,
    )


@router.put("/messages/{message_id}/feedback", response_model=FeedbackOut)
async def feedback(
    message_id: str, body: FeedbackIn, principal: PrincipalDep, services: ServicesDep
) -> FeedbackOut:
    """Rate an answer (+1/-1, optional comment) as the session's end user; again to change it."""
    principal.require_reader()
    now = utcnow()
    async with services.db.write() as conn:
        user_id = await history.rate_answer(
            conn, principal, message_id, rating=body.rating, comment=body.comment, now=now
        )
    return FeedbackOut(
        message_id=message_id,
        user_id=user_id,
        rating=body.rating,
        comment=body.comment,
        updated_at=as_utc(now),
    )


@router.delete("/bots/{bot_id}/sessions/{session_id}", response_model=DeletedOut)
async def remove_session(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> DeletedOut:
    """Delete a session with its messages, streams, events, flow runs and feedback."""
    principal.require_bot(bot_id, kinds=READERS)
    async with services.db.write() as conn:
        session = await history.visible_session(conn, principal, bot_id, session_id)
        report = await delete_session(conn, session.id)
    return DeletedOut(deleted=dict(report))


@router.delete("/bots/{bot_id}/users/{user_id}", response_model=DeletedOut)
async def erase(
    bot_id: str, user_id: str, principal: PrincipalDep, services: ServicesDep
) -> DeletedOut:
    """Erase an end user: every row of theirs, and a report of what was deleted."""
    principal.require_bot(bot_id, kinds=READERS)
    if not principal.may_read(bot_id=bot_id, user_id=user_id):
        raise NotFound(f"end user '{user_id}' does not exist")
    async with services.db.write() as conn:
        user_pk = await history.end_user_pk(conn, bot_id, user_id)
        if user_pk is None:
            raise NotFound(f"end user '{user_id}' does not exist")
        report = await erase_user(conn, user_pk)
    return DeletedOut(deleted=dict(report))


EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One JSON object per message and line, by session, in order.",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


@router.get("/bots/{bot_id}/export", response_class=StreamingResponse, responses=EXPORT_DOC)
async def export(bot_id: str, principal: PrincipalDep, services: ServicesDep) -> StreamingResponse:
    """The bot's conversations as JSON Lines, read in pages (no transaction stays open)."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
    return StreamingResponse(_export_lines(services.db, bot_id), media_type="application/x-ndjson")


async def _export_lines(db: Database, bot_id: str) -> AsyncIterator[bytes]:
    async for rows in history.export_pages(db, bot_id):
        yield b"".join(
            orjson.dumps(
                {
                    "session_id": r.session_external_id,
                    "user_id": r.user_external_id,
                    "message_id": r.id,
                    "position": r.position,
                    "role": r.role,
                    "content": r.content,
                    "status": r.status,
                    "declined": r.declined,
                    "usage": r.usage,
                    "bot_version": r.bot_version,
                    "created_at": as_utc(r.created_at).isoformat(),
                }
            )
            + b"\n"
            for r in rows
        )
