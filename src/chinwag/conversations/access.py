"""Which rows a caller may see: the lookups shared by every route that reads a message or
follows a stream."""

from __future__ import annotations

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.principal import Principal
from chinwag.conversations.models import ChatSession, EndUser, Message, MessageAuthor
from chinwag.db.uow import Database
from chinwag.errors import NotFound, StreamNotFound
from chinwag.streams.models import Stream


async def visible_message(
    conn: AsyncConnection, message_id: str, principal: Principal
) -> RowMapping:
    """The message's columns with `session_external_id`, `bot_id`, `user_pk`,
    `user_external_id` and `author_name` (an operator's answer); NotFound when it does not
    exist or the caller may not see it (the two look the same, so ids leak nothing)."""
    row = (
        await conn.execute(
            select(
                Message,
                ChatSession.external_id.label("session_external_id"),
                ChatSession.bot_id.label("bot_id"),
                ChatSession.user_id.label("user_pk"),
                EndUser.external_id.label("user_external_id"),
                MessageAuthor.name.label("author_name"),
            )
            .join(ChatSession, ChatSession.id == Message.session_id)
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .outerjoin(MessageAuthor, MessageAuthor.message_id == Message.id)
            .where(Message.id == message_id)
        )
    ).first()
    if row is None or not principal.may_read(bot_id=row.bot_id, user_id=row.user_external_id):
        raise NotFound(f"message '{message_id}' does not exist")
    return row._mapping


async def visible_stream(db: Database, stream_id: str, principal: Principal) -> None:
    """404 unless the stream belongs to the caller's bot (and end user, for tokens); admins
    pass without a query (opening the stream says 404 for unknown ones)."""
    if principal.kind == "admin":
        return
    async with db.read() as conn:
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
