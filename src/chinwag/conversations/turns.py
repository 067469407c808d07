"""Writing one accepted turn's messages: the user's and the assistant's (still streaming).

Both rows go in one statement; the stream that writes the answer is opened by
`streams/store.py` in the same transaction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import Message


@dataclass(frozen=True, slots=True)
class NewTurn:
    session_pk: str
    position: int  # of the user message; the assistant message follows it
    text: str
    bot_version: int
    user_message_id: str
    assistant_message_id: str
    now: datetime


_POSTGRES_INSERT_TURN = text("""
INSERT INTO messages (id, session_id, position, role, content, status, reply_to_id,
                      bot_version, created_at, finished_at)
VALUES (:user_message_id, :session_pk, :position, 'user', :text, 'complete', NULL,
        :bot_version, :now, :now),
       (:assistant_message_id, :session_pk, :position + 1, 'assistant', '', 'streaming',
        :user_message_id, :bot_version, :now, NULL)
""")


async def insert_turn(conn: AsyncConnection, turn: NewTurn) -> None:
    if conn.dialect.name == "postgresql":  # one prepared statement on the accept path
        await conn.execute(_POSTGRES_INSERT_TURN, asdict(turn))
        return
    common = {
        "session_id": turn.session_pk,
        "bot_version": turn.bot_version,
        "created_at": turn.now,
    }
    await conn.execute(
        insert(Message).values(
            [
                {
                    **common,
                    "id": turn.user_message_id,
                    "position": turn.position,
                    "role": "user",
                    "content": turn.text,
                    "status": "complete",
                    "reply_to_id": None,
                    "finished_at": turn.now,
                },
                {
                    **common,
                    "id": turn.assistant_message_id,
                    "position": turn.position + 1,
                    "role": "assistant",
                    "content": "",
                    "status": "streaming",
                    "reply_to_id": turn.user_message_id,
                    "finished_at": None,
                },
            ]
        )
    )
