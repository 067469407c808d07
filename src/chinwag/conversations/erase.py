"""Deleting conversations: always children first (events, streams, flow runs, feedback,
idempotency keys, messages, sessions, the end user), never by relaxing a constraint."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import (
    ChatSession,
    EndUser,
    Feedback,
    FlowRun,
    IdempotencyKey,
    Message,
)
from chinwag.streams.store import delete_streams_of

Report = Counter[str]


def _count(result: object) -> int:
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


async def delete_messages(conn: AsyncConnection, ids: Sequence[str]) -> Report:
    """Delete messages, the answers to them, and every row that refers to any of them."""
    report: Report = Counter()
    if not ids:
        return report
    replies = (
        (await conn.execute(select(Message.id).where(Message.reply_to_id.in_(ids)))).scalars().all()
    )
    every = list(dict.fromkeys([*ids, *replies]))
    events, streams = await delete_streams_of(conn, every)
    report["stream_events"] += events
    report["streams"] += streams
    report["flow_runs"] += _count(
        await conn.execute(delete(FlowRun).where(FlowRun.message_id.in_(every)))
    )
    report["feedback"] += _count(
        await conn.execute(delete(Feedback).where(Feedback.message_id.in_(every)))
    )
    report["idempotency_keys"] += _count(
        await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.user_message_id.in_(every)))
    )
    report["messages"] += _count(
        await conn.execute(
            delete(Message).where(Message.id.in_(every), Message.reply_to_id.is_not(None))
        )
    )
    report["messages"] += _count(await conn.execute(delete(Message).where(Message.id.in_(every))))
    return report


async def delete_session(conn: AsyncConnection, session_pk: str) -> Report:
    """A session with all its messages and everything below them."""
    ids = (
        (await conn.execute(select(Message.id).where(Message.session_id == session_pk)))
        .scalars()
        .all()
    )
    report = await delete_messages(conn, ids)
    report["sessions"] += _count(
        await conn.execute(delete(ChatSession).where(ChatSession.id == session_pk))
    )
    return report


async def erase_user(conn: AsyncConnection, user_pk: str) -> Report:
    """Every row of one end user: sessions, messages, streams, events, feedback, the user."""
    report: Report = Counter()
    sessions = (
        (await conn.execute(select(ChatSession.id).where(ChatSession.user_id == user_pk)))
        .scalars()
        .all()
    )
    for session_pk in sessions:
        report.update(await delete_session(conn, session_pk))
    report["feedback"] += _count(
        await conn.execute(delete(Feedback).where(Feedback.user_id == user_pk))
    )
    report["end_users"] += _count(await conn.execute(delete(EndUser).where(EndUser.id == user_pk)))
    return report
