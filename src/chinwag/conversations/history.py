"""Reading and rating stored conversations: sessions, their messages, feedback, export pages.

Every function takes a connection (or, for export, the database: one short read per page)
and never commits. Who may see what is decided with the caller's `Principal`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.principal import Principal
from chinwag.conversations.access import visible_message
from chinwag.conversations.models import (
    ChatSession,
    EndUser,
    Feedback,
    Handoff,
    Message,
    MessageAuthor,
    SessionEvent,
    ToolAction,
)
from chinwag.conversations.schemas import PendingAction
from chinwag.db.base import new_id
from chinwag.db.conflicts import dialect_insert
from chinwag.db.uow import Database
from chinwag.errors import InvalidRequest, SessionNotFound

EXPORT_PAGE = 500


async def find_session(conn: AsyncConnection, bot_id: str, session_id: str) -> Any:
    """A bot's session by its external id, with its user's external id, display name and
    email (None if unknown)."""
    result = await conn.execute(
        select(
            ChatSession,
            EndUser.external_id.label("user_external_id"),
            EndUser.display_name.label("user_display_name"),
            EndUser.email.label("user_email"),
        )
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .where(ChatSession.bot_id == bot_id, ChatSession.external_id == session_id)
    )
    return result.first()


async def visible_session(
    conn: AsyncConnection, principal: Principal, bot_id: str, session_id: str
) -> Any:
    """The session's row (with its user's external id); 404 unless the caller may see it."""
    row = await find_session(conn, bot_id, session_id)
    if row is None or not principal.may_read(bot_id=bot_id, user_id=row.user_external_id):
        raise SessionNotFound(f"session '{session_id}' does not exist")
    return row


async def list_sessions(
    conn: AsyncConnection, bot_id: str, user_id: str | None, *, offset: int, limit: int
) -> Sequence[Row[ChatSession, str]]:
    """Up to `limit` sessions of the bot (or of one end user), newest first, after `offset`."""
    query = (
        select(ChatSession, EndUser.external_id.label("user_external_id"))
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .where(ChatSession.bot_id == bot_id)
        .order_by(ChatSession.created_at.desc(), ChatSession.id.desc())
        .offset(offset)
        .limit(limit)
    )
    if user_id is not None:
        query = query.where(EndUser.external_id == user_id)
    return (await conn.execute(query)).all()


async def session_messages(
    conn: AsyncConnection, session_pk: str, *, after: int, limit: int
) -> Sequence[Row[Message, str | None]]:
    """Up to `limit` messages of a session after position `after`, in order, with the name
    of the operator who wrote an answer (`author_name`; None: the bot's)."""
    result = await conn.execute(
        select(Message, MessageAuthor.name.label("author_name"))
        .outerjoin(MessageAuthor, MessageAuthor.message_id == Message.id)
        .where(Message.session_id == session_pk, Message.position > after)
        .order_by(Message.position)
        .limit(limit)
    )
    return result.all()


async def pending_ticket_offer(conn: AsyncConnection, session_pk: str) -> dict[str, Any] | None:
    """The last ticket offer of a session still waiting for a person, with no ticket left
    since (leaving one closes the handoff): its event's data, or None."""
    data = await conn.execute(
        select(SessionEvent.data)
        .join(Handoff, Handoff.session_id == SessionEvent.session_id)
        .where(
            SessionEvent.session_id == session_pk,
            SessionEvent.type == "handoff.ticket_offered",
            Handoff.state == "waiting",
            Handoff.ticket_offered_at.is_not(None),
        )
        .order_by(SessionEvent.seq.desc())
        .limit(1)
    )
    found = data.scalar_one_or_none()
    return orjson.loads(found) if found is not None else None


async def pending_actions(
    conn: AsyncConnection, message_ids: Sequence[str]
) -> dict[str, PendingAction]:
    """The actions these answers asked the visitor to confirm that nobody answered yet, by
    answer (the first one an answer asked, should it have asked several)."""
    if not message_ids:
        return {}
    rows = await conn.execute(
        select(ToolAction)
        .where(ToolAction.message_id.in_(message_ids), ToolAction.status == "pending")
        .order_by(ToolAction.created_at.desc(), ToolAction.id.desc())
    )
    return {
        a.message_id: PendingAction(
            action_id=a.id, flow=a.flow, tool=a.tool, arguments=a.shown, text=a.text
        )
        for a in rows
    }


async def rate_answer(
    conn: AsyncConnection,
    principal: Principal,
    message_id: str,
    *,
    rating: int,
    comment: str | None,
    now: datetime,
) -> str:
    """Record (or change) the session's end user's rating of an answer; their external id."""
    row = await visible_message(conn, message_id, principal)
    if row["role"] != "assistant":
        raise InvalidRequest(
            "feedback rates answers", hint="Send it for an assistant message's id."
        )
    values = {"rating": rating, "comment": comment, "updated_at": now}
    await conn.execute(
        dialect_insert(conn, Feedback)
        .values(
            id=new_id(), message_id=message_id, user_id=row["user_pk"], created_at=now, **values
        )
        .on_conflict_do_update(index_elements=["message_id", "user_id"], set_=values)
    )
    return str(row["user_external_id"])


async def end_user_pk(conn: AsyncConnection, bot_id: str, external_id: str) -> str | None:
    result = await conn.execute(
        select(EndUser.id).where(EndUser.bot_id == bot_id, EndUser.external_id == external_id)
    )
    return result.scalar()


async def export_pages(
    db: Database, bot_id: str
) -> AsyncIterator[Sequence[Row[Message, str, str]]]:
    """Every message of the bot with its session's and user's external ids, by session and
    position, a page at a time (one short read each: no transaction stays open)."""
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
                    .limit(EXPORT_PAGE)
                )
            ).all()
        if not rows:
            return
        yield rows
        last = (rows[-1].session_id, rows[-1].position)
