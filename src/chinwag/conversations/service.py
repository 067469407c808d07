"""Conversation queries. Every function takes a connection and never commits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.continuation import continued_session
from chinwag.conversations.models import ChatSession, EndUser, FlowRun, IdempotencyKey, Message
from chinwag.conversations.turns import NewTurn, insert_turn
from chinwag.db.base import new_id, utcnow
from chinwag.db.conflicts import insert_or_ignore
from chinwag.errors import IdempotencyKeyReused, SessionOwnedByAnotherUser
from chinwag.streams.ending import StreamEnd
from chinwag.streams.events import STARTED_SEQ, StreamStarted
from chinwag.streams.models import LoggedEvent, Stream
from chinwag.streams.store import insert_stream


@dataclass(frozen=True, slots=True)
class Accepted:
    """The rows one accepted message created (or, for a replay, had created)."""

    bot_id: str
    bot_version: int
    user_id: str  # external id, as the client knows it
    session_id: str  # external id, as the client knows it
    session_pk: str
    user_message_id: str
    assistant_message_id: str
    stream_id: str
    position: int
    replayed: bool
    started_event: str  # JSON of the stream.started event (the log's first, STARTED_SEQ)


def request_hash(body: dict[str, object]) -> str:
    """A stable fingerprint of a request body, to tell a retry from a different request."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


# Built once: the accept path runs these for every message (building a statement and its cache
# key costs more than running it).
_INSERT_USER = insert(EndUser).values(
    id=bindparam("b_id"),
    bot_id=bindparam("b_bot_id"),
    external_id=bindparam("b_external_id"),
    created_at=bindparam("b_now"),
)
_INSERT_SESSION = insert(ChatSession).values(
    id=bindparam("b_id"),
    bot_id=bindparam("b_bot_id"),
    user_id=bindparam("b_user_id"),
    external_id=bindparam("b_external_id"),
    message_count=bindparam("b_message_count"),
    created_at=bindparam("b_now"),
    last_message_at=bindparam("b_now"),
)
_USER_PK = select(EndUser.id).where(
    EndUser.bot_id == bindparam("b_bot_id"), EndUser.external_id == bindparam("b_external_id")
)
_SESSION_ROW = select(ChatSession.id, ChatSession.user_id).where(
    ChatSession.bot_id == bindparam("b_bot_id"),
    ChatSession.external_id == bindparam("b_external_id"),
)
# The row lock taken here orders concurrent messages of one session.
_COUNT_TWO_MESSAGES = (
    update(ChatSession)
    .where(ChatSession.id == bindparam("b_id"))
    .values(message_count=ChatSession.message_count + 2, last_message_at=bindparam("b_now"))
    .returning(ChatSession.message_count)
)


async def accept_message(
    conn: AsyncConnection,
    *,
    bot_id: str,
    bot_version: int,
    text: str,
    user_external_id: str | None,
    session_external_id: str | None,
    worker_id: str,
    idempotency_key: str | None = None,
    body_hash: str = "",
    seed: Sequence[Turn] = (),
) -> Accepted:
    """Upsert user and session, insert both messages, the stream and its first event.

    With an idempotency key already used, returns what the first request created instead.
    `seed`: earlier turns that open a new session (OpenAI-style requests carry their history),
    unless the user's session with exactly these turns exists: then that session continues.
    """
    if seed and session_external_id is not None:
        raise ValueError("seed turns open a new session only")
    if idempotency_key is not None:
        claimed = await conn.execute(
            insert_or_ignore(conn, IdempotencyKey)
            .values(bot_id=bot_id, key=idempotency_key, request_hash=body_hash, created_at=utcnow())
            .returning(IdempotencyKey.key)
        )
        if claimed.first() is None:
            return await _replay(conn, bot_id=bot_id, key=idempotency_key, body_hash=body_hash)

    now = utcnow()
    user_pk, user_external_id = await _upsert_user(conn, bot_id, user_external_id, now)
    if seed:  # a stateless client resent a conversation it had: that session continues
        found = await continued_session(
            conn, bot_id=bot_id, user_pk=user_pk, turns=[(t.role, t.content) for t in seed]
        )
        if found is not None:
            session_external_id, seed = found, ()
    session_pk, session_external_id, position = await _upsert_session(
        conn, bot_id, user_pk, session_external_id, now, reserve=len(seed)
    )
    if seed:
        await conn.execute(
            insert(Message),
            [
                {
                    "id": new_id(),
                    "session_id": session_pk,
                    "position": i,
                    "role": turn.role,
                    "content": turn.content,
                    "status": "complete",
                    "created_at": now,
                }
                for i, turn in enumerate(seed, start=1)
            ],
        )
    user_message_id, assistant_message_id, stream_id = new_id(), new_id(), new_id()
    started = StreamStarted(
        stream_id=stream_id,
        message_id=assistant_message_id,
        session_id=session_external_id,
        user_id=user_external_id,
        bot_id=bot_id,
        bot_version=bot_version,
    ).model_dump_json()
    await insert_turn(
        conn,
        NewTurn(
            session_pk=session_pk,
            position=position,
            text=text,
            bot_version=bot_version,
            user_message_id=user_message_id,
            assistant_message_id=assistant_message_id,
            now=now,
        ),
    )
    await insert_stream(
        conn,
        stream_id=stream_id,
        message_id=assistant_message_id,
        worker_id=worker_id,
        started_event=started,
        now=now,
    )
    if idempotency_key is not None:
        await conn.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.bot_id == bot_id, IdempotencyKey.key == idempotency_key)
            .values(user_message_id=user_message_id)
        )
    return Accepted(
        bot_id=bot_id,
        bot_version=bot_version,
        user_id=user_external_id,
        session_id=session_external_id,
        session_pk=session_pk,
        user_message_id=user_message_id,
        assistant_message_id=assistant_message_id,
        stream_id=stream_id,
        position=position,
        replayed=False,
        started_event=started,
    )


async def _upsert_user(
    conn: AsyncConnection, bot_id: str, external_id: str | None, now: datetime
) -> tuple[str, str]:
    """(primary key, external id) of the user, created on first contact."""
    if external_id is not None:
        found = await _user_pk(conn, bot_id, external_id)
        if found is not None:
            return found, external_id
        created = await conn.execute(
            insert_or_ignore(conn, EndUser, unique=["bot_id", "external_id"])
            .values(id=new_id(), bot_id=bot_id, external_id=external_id, created_at=now)
            .returning(EndUser.id)
        )
        # ON CONFLICT DO NOTHING returns no row when a concurrent request won: read its row.
        pk = created.scalar() or await _user_pk(conn, bot_id, external_id)
        assert pk is not None, "the conflicting row exists, or the insert would have happened"
        return pk, external_id
    # A new anonymous user: both ids are freshly generated, so nothing can conflict.
    pk, external_id = new_id(), new_id()
    await conn.execute(
        _INSERT_USER, {"b_id": pk, "b_bot_id": bot_id, "b_external_id": external_id, "b_now": now}
    )
    return pk, external_id


async def _user_pk(conn: AsyncConnection, bot_id: str, external_id: str) -> str | None:
    found = await conn.execute(_USER_PK, {"b_bot_id": bot_id, "b_external_id": external_id})
    return found.scalar()


async def _upsert_session(
    conn: AsyncConnection,
    bot_id: str,
    user_pk: str,
    external_id: str | None,
    now: datetime,
    *,
    reserve: int = 0,
) -> tuple[str, str, int]:
    """(primary key, external id, position of the new user message) of the session.

    A new session without an external id keeps positions 1..`reserve` for seed turns.
    """
    pk = new_id()
    if external_id is None:
        external_id = new_id()
        await conn.execute(
            _INSERT_SESSION,
            {
                "b_id": pk,
                "b_bot_id": bot_id,
                "b_user_id": user_pk,
                "b_external_id": external_id,
                "b_message_count": 2 + reserve,
                "b_now": now,
            },
        )
        return pk, external_id, 1 + reserve
    row = await _session_row(conn, bot_id, external_id)
    if row is None:
        created = await conn.execute(
            insert_or_ignore(conn, ChatSession, unique=["bot_id", "external_id"])
            .values(
                id=pk,
                bot_id=bot_id,
                user_id=user_pk,
                external_id=external_id,
                message_count=2,
                created_at=now,
                last_message_at=now,
            )
            .returning(ChatSession.id)
        )
        if created.scalar() is not None:
            return pk, external_id, 1
        row = await _session_row(conn, bot_id, external_id)  # a concurrent request created it
        assert row is not None
    if row.user_id != user_pk:
        raise SessionOwnedByAnotherUser(
            f"session '{external_id}' belongs to another user of bot '{bot_id}'"
        )
    counted = await conn.execute(_COUNT_TWO_MESSAGES, {"b_id": row.id, "b_now": now})
    count = counted.scalar_one()
    return row.id, external_id, count - 1


async def _session_row(
    conn: AsyncConnection, bot_id: str, external_id: str
) -> Row[str, str] | None:
    found = await conn.execute(_SESSION_ROW, {"b_bot_id": bot_id, "b_external_id": external_id})
    return found.first()


async def keyed_message_id(conn: AsyncConnection, *, bot_id: str, key: str, body_hash: str) -> str:
    """The message an earlier request with this Idempotency-Key stored; 422
    `idempotency_key_reused` when that request had another body."""
    stored = (
        await conn.execute(
            select(IdempotencyKey.request_hash, IdempotencyKey.user_message_id).where(
                IdempotencyKey.bot_id == bot_id, IdempotencyKey.key == key
            )
        )
    ).one()
    if stored.request_hash != body_hash:
        raise IdempotencyKeyReused(
            f"Idempotency-Key '{key}' was already used with a different request body"
        )
    message_id: str = stored.user_message_id
    return message_id


async def _replay(conn: AsyncConnection, *, bot_id: str, key: str, body_hash: str) -> Accepted:
    user_message_id = await keyed_message_id(conn, bot_id=bot_id, key=key, body_hash=body_hash)
    row = (
        await conn.execute(
            select(
                Message.id.label("assistant_message_id"),
                Message.position,
                Message.bot_version,
                Stream.id.label("stream_id"),
                ChatSession.id.label("session_pk"),
                ChatSession.external_id.label("session_id"),
                EndUser.external_id.label("user_id"),
                LoggedEvent.data.label("started_event"),
            )
            .join(Stream, Stream.message_id == Message.id)
            .join(ChatSession, ChatSession.id == Message.session_id)
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .join(
                LoggedEvent, (LoggedEvent.stream_id == Stream.id) & (LoggedEvent.seq == STARTED_SEQ)
            )
            .where(Message.reply_to_id == user_message_id)
        )
    ).one()
    return Accepted(
        bot_id=bot_id,
        bot_version=row.bot_version or 0,
        user_id=row.user_id,
        session_id=row.session_id,
        session_pk=row.session_pk,
        user_message_id=user_message_id,
        assistant_message_id=row.assistant_message_id,
        stream_id=row.stream_id,
        position=row.position - 1,
        replayed=True,
        started_event=row.started_event,
    )


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str
    route: dict[str, Any] | None = None  # an answer's route record (what its flows remember)


async def load_history(
    conn: AsyncConnection, *, session_pk: str, before_position: int, limit: int
) -> list[Turn]:
    """The last `limit` finished turns of a session before a position, oldest first."""
    if limit <= 0:
        return []
    rows = (
        await conn.execute(
            select(Message.role, Message.content, Message.route)
            .where(
                Message.session_id == session_pk,
                Message.position < before_position,
                Message.status.in_(("complete", "interrupted")),
                Message.content != "",
            )
            .order_by(Message.position.desc())
            .limit(limit)
        )
    ).all()
    return [Turn(role=r.role, content=r.content, route=r.route) for r in reversed(rows)]


# Built once: every answer's end runs it (building a statement costs more than running it).
_RECORD_ANSWER = (
    update(Message)
    .where(Message.id == bindparam("b_message_id"))
    .values(
        {
            column: bindparam(f"b_{column}")
            for column in (
                "content",
                "status",
                "usage",
                "error_code",
                "route",
                "citations",
                "finished_at",
                "ttft_ms",
                "declined",
            )
        }
    )
)


async def record_answer(conn: AsyncConnection, end: StreamEnd, now: datetime) -> None:
    """Record a stream's end on its assistant message and the message's flow runs (in the
    caller's transaction, with the stream's own end: see streams/store.py)."""
    await conn.execute(
        _RECORD_ANSWER,
        {
            "b_message_id": end.message_id,
            "b_content": end.content,
            "b_status": "complete" if end.status == "completed" else end.status,
            "b_usage": end.usage.model_dump() if end.usage is not None else None,
            "b_error_code": end.error_code,
            "b_route": end.route,
            "b_citations": end.citations,
            "b_finished_at": now,
            "b_ttft_ms": end.ttft_ms,
            "b_declined": end.declined,
        },
    )
    if end.flow_runs:
        assert end.bot_id is not None, "flow runs are recorded per bot"
        await conn.execute(
            insert(FlowRun),
            [
                {**run, "message_id": end.message_id, "bot_id": end.bot_id, "created_at": now}
                for run in end.flow_runs
            ],
        )
