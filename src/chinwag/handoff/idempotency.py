"""A message written while a person answers (the visitor's or the operator's) is stored once per
Idempotency-Key, however often its request comes: a client that got no reply sends it again
(a browser does so by itself when a reused connection closes without one, as when the worker
dies between its commit and its reply)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import IdempotencyKey
from chinwag.conversations.models import SessionEvent as SessionEventRow
from chinwag.conversations.service import keyed_message_id
from chinwag.db.conflicts import insert_or_ignore


async def earlier_message(
    conn: AsyncConnection, *, bot_id: str, key: str, body_hash: str, now: datetime
) -> str | None:
    """The message an earlier request with `key` stored (a replay); None: the key is new, now
    taken (the caller stores the message and `remember`s it in the same transaction). 422 for
    the same key with another body."""
    claimed = await conn.execute(
        insert_or_ignore(conn, IdempotencyKey)
        .values(bot_id=bot_id, key=key, request_hash=body_hash, created_at=now)
        .returning(IdempotencyKey.key)
    )
    if claimed.first() is not None:
        return None
    return await keyed_message_id(conn, bot_id=bot_id, key=key, body_hash=body_hash)


async def remember(conn: AsyncConnection, *, bot_id: str, key: str, message_id: str) -> None:
    """The message the request with `key` stored (the column names the visitor's message of a
    bot answer; here it is whichever message the key made)."""
    await conn.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.bot_id == bot_id, IdempotencyKey.key == key)
        .values(user_message_id=message_id)
    )


async def seq_of(conn: AsyncConnection, session_pk: str, message_id: str) -> int:
    """The seq of a stored message's `message.created` event on its session's log."""
    found = await conn.execute(
        select(SessionEventRow.seq).where(
            SessionEventRow.session_id == session_pk,
            SessionEventRow.type == "message.created",
            SessionEventRow.data.contains(message_id),
        )
    )
    return int(found.scalar_one())
