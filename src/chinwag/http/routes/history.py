"""HTTP routes over stored conversations: sessions, messages, feedback, deletion, export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.principal import Principal, PrincipalKind
from chinwag.bots.service import get_bot
from chinwag.conversations.access import visible_message
from chinwag.conversations.erase import delete_session, erase_user
from chinwag.conversations.history_schemas import (
    DeletedOut,
    FeedbackIn,
    FeedbackOut,
    MessagePage,
    SessionOut,
    SessionPage,
)
from chinwag.conversations.models import ChatSession, EndUser, Feedback, Message
from chinwag.conversations.schemas import MessageOut
from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import InvalidRequest, NotFound, SessionNotFound
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
from chinwag.timestamps import as_utc

router = APIRouter(prefix="/v1", tags=["conversations"])
ExternalId = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[\w.:@-]+$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=40, pattern=r"^[0-9]+$")]
READERS: tuple[PrincipalKind, ...] = ("secret", "user")


def _own_user(principal: Principal, user_id: str | None) -> str | None:
    """End-user tokens see only their own user, whatever they ask for."""
    return principal.user_id if principal.kind == "user" else user_id


async def _session(
    conn: AsyncConnection, principal: Principal, bot_id: str, session_id: str
) -> Any:
    """The session's row (with its user's external id); 404 unless the caller may see it."""
    row = (
        await conn.execute(
            select(ChatSession, EndUser.external_id.label("user_external_id"))
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .where(ChatSession.bot_id == bot_id, ChatSession.external_id == session_id)
        )
    ).first()
    if row is None or not principal.may_read(bot_id=bot_id, user_id=row.user_external_id):
        raise SessionNotFound(f"session '{session_id}' does not exist")
    return row


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
    query = (
        select(ChatSession, EndUser.external_id.label("user_external_id"))
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .where(ChatSession.bot_id == bot_id)
        .order_by(ChatSession.created_at.desc(), ChatSession.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    if user_id is not None:
        query = query.where(EndUser.external_id == user_id)
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        rows = (await conn.execute(query)).all()
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
    """A session's messages in order; `next_cursor` continues after the last one returned."""
    principal.require_bot(bot_id, kinds=READERS)
    after = int(cursor or 0)
    async with services.db.read() as conn:
        session = await _session(conn, principal, bot_id, session_id)
        rows = (
            await conn.execute(
                select(Message)
                .where(Message.session_id == session.id, Message.position > after)
                .order_by(Message.position)
                .limit(limit + 1)
            )
        ).all()
    page = [MessageOut.from_row(m._mapping, session_id=session_id) for m in rows[:limit]]
    more = len(rows) > limit
    return MessagePage(messages=page, next_cursor=str(rows[limit - 1].position) if more else None)


@router.put("/messages/{message_id}/feedback", response_model=FeedbackOut)
async def feedback(
    message_id: str, body: FeedbackIn, principal: PrincipalDep, services: ServicesDep
) -> FeedbackOut:
    """Rate an answer (+1/-1, optional comment) as the session's end user; again to change it."""
    principal.require_reader()
    now = utcnow()
    async with services.db.write() as conn:
        row = await visible_message(conn, message_id, principal)
        if row["role"] != "assistant":
            raise InvalidRequest(
                "feedback rates answers", hint="Send it for an assistant message's id."
            )
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = {"rating": body.rating, "comment": body.comment, "updated_at": now}
        await conn.execute(
            dialect.insert(Feedback)
            .values(
                id=new_id(), message_id=message_id, user_id=row["user_pk"], created_at=now, **values
            )
            .on_conflict_do_update(index_elements=["message_id", "user_id"], set_=values)
        )
    return FeedbackOut(
        message_id=message_id,
        user_id=row["user_external_id"],
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
        session = await _session(conn, principal, bot_id, session_id)
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
        user_pk = (
            await conn.execute(
                select(EndUser.id).where(EndUser.bot_id == bot_id, EndUser.external_id == user_id)
            )
        ).scalar()
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
    last: tuple[str, int] = ("", 0)
    while True:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        Message,
                        ChatSession.external_id.label("session_external_id"),
                        EndUser.external_id.label("user_external_id"),
                    )
                    .join(ChatSession, ChatSession.id == Message.session_id)
                    .join(EndUser, EndUser.id == ChatSession.user_id)
                    .where(
                        ChatSession.bot_id == bot_id,
                        (Message.session_id > last[0])
                        | ((Message.session_id == last[0]) & (Message.position > last[1])),
                    )
                    .order_by(Message.session_id, Message.position)
                    .limit(500)
                )
            ).all()
        if not rows:
            return
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
                    "usage": r.usage,
                    "bot_version": r.bot_version,
                    "created_at": as_utc(r.created_at).isoformat(),
                }
            )
            + b"\n"
            for r in rows
        )
        last = (rows[-1].session_id, rows[-1].position)
