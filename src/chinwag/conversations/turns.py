"""Writing one accepted turn: the user message, the assistant message, its stream, event 1.

On PostgreSQL the four rows go in ONE statement (data-modifying CTEs; foreign keys are checked
at the end of the statement), saving two round trips on the accept path. SQLite, in process,
has no round trips to save and takes them one statement each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import Message
from chinwag.streams.models import Stream, StreamEvent

_POSTGRES_INSERT_TURN = text("""
WITH new_messages AS (
    INSERT INTO messages (id, session_id, position, role, content, status, reply_to_id,
                          bot_version, created_at, finished_at)
    VALUES (:user_message_id, :session_pk, :position, 'user', :text, 'complete', NULL,
            :bot_version, :now, :now),
           (:assistant_message_id, :session_pk, :position + 1, 'assistant', '', 'streaming',
            :user_message_id, :bot_version, :now, NULL)
), new_stream AS (
    INSERT INTO streams (id, message_id, worker_id, status, last_seq, created_at)
    VALUES (:stream_id, :assistant_message_id, :worker_id, 'streaming', 1, :now)
)
INSERT INTO stream_events (stream_id, seq, type, data, created_at)
VALUES (:stream_id, 1, 'stream.started', :started_event, :now)
""")


@dataclass(frozen=True, slots=True)
class NewTurn:
    session_pk: str
    position: int  # of the user message; the assistant message follows it
    text: str
    bot_version: int
    user_message_id: str
    assistant_message_id: str
    stream_id: str
    worker_id: str
    started_event: str  # JSON of stream.started
    now: datetime


async def insert_turn(conn: AsyncConnection, turn: NewTurn) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(_POSTGRES_INSERT_TURN, asdict(turn))
        return
    common = {
        "session_id": turn.session_pk,
        "bot_version": turn.bot_version,
        "created_at": turn.now,
    }
    await conn.execute(
        insert(Message),
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
        ],
    )
    await conn.execute(
        insert(Stream).values(
            id=turn.stream_id,
            message_id=turn.assistant_message_id,
            worker_id=turn.worker_id,
            status="streaming",
            last_seq=1,
            created_at=turn.now,
        )
    )
    await conn.execute(
        insert(StreamEvent).values(
            stream_id=turn.stream_id,
            seq=1,
            type="stream.started",
            data=turn.started_event,
            created_at=turn.now,
        )
    )
