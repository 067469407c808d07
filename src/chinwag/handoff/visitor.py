"""A visitor's message while a person has the conversation (or is asked for): stored in the
session, put on its event log, and not answered by the bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import IdempotencyKey
from chinwag.db.conflicts import insert_or_ignore
from chinwag.errors import IdempotencyKeyReused, SessionOwnedByAnotherUser
from chinwag.handoff.service import add_message, find_session
from chinwag.streams.events import LogEntry


@dataclass(frozen=True, slots=True)
class Held:
    """A visitor's message stored without a bot answer: a person answers (or is asked for)."""

    bot_id: str
    user_id: str  # external id
    session_id: str  # external id
    session_pk: str
    user_message_id: str
    state: str  # `waiting` or `claimed`
    replayed: bool
    event: LogEntry | None  # its `message.created` (None for a replay)


async def hold_message(
    conn: AsyncConnection,
    *,
    bot_id: str,
    session_id: str,
    user_id: str | None,
    state: str,
    text: str,
    idempotency_key: str | None,
    body_hash: str,
    now: datetime,
) -> Held:
    """Store the visitor's message in the held session (once per Idempotency-Key)."""
    session = await find_session(conn, bot_id, session_id)
    if user_id is not None and session["user_external_id"] != user_id:
        raise SessionOwnedByAnotherUser(
            f"session '{session_id}' belongs to another user of bot '{bot_id}'"
        )

    def held(message_id: str, *, replayed: bool, event: LogEntry | None) -> Held:
        return Held(
            bot_id=bot_id,
            user_id=session["user_external_id"],
            session_id=session_id,
            session_pk=session["id"],
            user_message_id=message_id,
            state=state,
            replayed=replayed,
            event=event,
        )

    if idempotency_key is not None:
        claimed = await conn.execute(
            insert_or_ignore(conn, IdempotencyKey)
            .values(bot_id=bot_id, key=idempotency_key, request_hash=body_hash, created_at=now)
            .returning(IdempotencyKey.key)
        )
        if claimed.first() is None:
            stored = (
                await conn.execute(
                    select(IdempotencyKey.request_hash, IdempotencyKey.user_message_id).where(
                        IdempotencyKey.bot_id == bot_id, IdempotencyKey.key == idempotency_key
                    )
                )
            ).one()
            if stored.request_hash != body_hash:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key '{idempotency_key}' was already used with a different "
                    "request body"
                )
            return held(stored.user_message_id, replayed=True, event=None)
    message_id, event = await add_message(conn, session_pk=session["id"], text=text, now=now)
    if idempotency_key is not None:
        await conn.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.bot_id == bot_id, IdempotencyKey.key == idempotency_key)
            .values(user_message_id=message_id)
        )
    return held(message_id, replayed=False, event=event)
