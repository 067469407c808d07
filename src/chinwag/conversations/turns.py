"""Writing one accepted turn's messages: the user's and the assistant's (still streaming).

Both rows go in one statement; the stream that writes the answer is opened by
`streams/store.py` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class NewTurn:
    session_pk: str
    position: int  # of the user message; the assistant message follows it
    text: str
    bot_version: int
    user_message_id: str
    assistant_message_id: str
    now: datetime


# One statement for both rows, built once: a multi-row `insert().values([...])` is not cached
# by SQLAlchemy and was compiled anew for every accepted message.
_INSERT_TURN = text("""
INSERT INTO messages (id, session_id, position, role, content, status, reply_to_id,
                      bot_version, created_at, finished_at)
VALUES (:user_message_id, :session_pk, :position, 'user', :text, 'complete', NULL,
        :bot_version, :now, :now),
       (:assistant_message_id, :session_pk, :position + 1, 'assistant', '', 'streaming',
        :user_message_id, :bot_version, :now, NULL)
""").bindparams(bindparam("now", type_=DateTime(timezone=True)))


_TURN_FIELDS = tuple(f.name for f in fields(NewTurn))


async def insert_turn(conn: AsyncConnection, turn: NewTurn) -> None:
    # A shallow dict: `dataclasses.asdict` deep-copies every value (1.4 % of a busy server's CPU).
    await conn.execute(_INSERT_TURN, {name: getattr(turn, name) for name in _TURN_FIELDS})
