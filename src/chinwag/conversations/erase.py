"""Deleting conversations: always children first (events, streams, flow runs, feedback, tool
actions and their decisions, OpenAI responses, idempotency keys, operators' authorship,
messages, a handoff's session events, tickets and state, sessions, the end user), never by
relaxing a constraint.

The days of deleted messages are marked stale in the console's daily charts in the same
transaction, so the charts never count a deleted message (see chinwag.console.rollups).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import (
    EVERY_BOT,
    ChatSession,
    DailyCharts,
    EndUser,
    Feedback,
    FlowRun,
    Handoff,
    IdempotencyKey,
    Message,
    MessageAuthor,
    OpenAIResponse,
    SessionEvent,
    Ticket,
    ToolAction,
    ToolActionDecision,
)
from chinwag.db.conflicts import insert_or_ignore
from chinwag.streams.store import delete_streams_of
from chinwag.timestamps import as_utc

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
    await _mark_days_stale(conn, every)
    events, streams = await delete_streams_of(conn, every)
    report["stream_events"] += events
    report["streams"] += streams
    report["flow_runs"] += _count(
        await conn.execute(delete(FlowRun).where(FlowRun.message_id.in_(every)))
    )
    report["feedback"] += _count(
        await conn.execute(delete(Feedback).where(Feedback.message_id.in_(every)))
    )
    actions = select(ToolAction.id).where(ToolAction.message_id.in_(every))
    decided = delete(ToolActionDecision).where(
        ToolActionDecision.action_id.in_(actions) | ToolActionDecision.message_id.in_(every)
    )
    held = _count(await conn.execute(decided))
    held += _count(await conn.execute(delete(ToolAction).where(ToolAction.message_id.in_(every))))
    if held:  # actions that waited for a confirmation, and the answers to them
        report["tool_actions"] += held
    report["openai_responses"] += _count(
        await conn.execute(delete(OpenAIResponse).where(OpenAIResponse.message_id.in_(every)))
    )
    report["idempotency_keys"] += _count(
        await conn.execute(delete(IdempotencyKey).where(IdempotencyKey.user_message_id.in_(every)))
    )
    authors = _count(
        await conn.execute(delete(MessageAuthor).where(MessageAuthor.message_id.in_(every)))
    )
    if authors:  # operators' answers (a handoff)
        report["message_authors"] += authors
    report["messages"] += _count(
        await conn.execute(
            delete(Message).where(Message.id.in_(every), Message.reply_to_id.is_not(None))
        )
    )
    report["messages"] += _count(await conn.execute(delete(Message).where(Message.id.in_(every))))
    return report


async def _mark_days_stale(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """The daily charts of the days these messages were written on, for their bot and for
    every bot, are stale: rows are inserted stale where no day was folded yet, so that a fold
    computed before this deletion cannot be written after it."""
    written = await conn.execute(
        select(ChatSession.bot_id, Message.created_at)
        .join(ChatSession, ChatSession.id == Message.session_id)
        .where(Message.id.in_(ids))
    )
    keys = sorted(
        {
            (scope, as_utc(created_at).date())
            for bot_id, created_at in written
            for scope in (bot_id, EVERY_BOT)
        }
    )
    if not keys:
        return
    await conn.execute(
        update(DailyCharts)
        .where(tuple_(DailyCharts.scope, DailyCharts.day).in_(keys))
        .values(stale=True, generation=DailyCharts.generation + 1)
    )
    await conn.execute(
        insert_or_ignore(conn, DailyCharts).values(
            [{"scope": s, "day": d, "stale": True, "generation": 1} for s, d in keys]
        )
    )


async def delete_session(conn: AsyncConnection, session_pk: str) -> Report:
    """A session with all its messages and everything below them."""
    ids = (
        (await conn.execute(select(Message.id).where(Message.session_id == session_pk)))
        .scalars()
        .all()
    )
    report = await delete_messages(conn, ids)
    events = _count(
        await conn.execute(delete(SessionEvent).where(SessionEvent.session_id == session_pk))
    )
    if events:  # a handoff's session log
        report["session_events"] += events
    tickets = _count(await conn.execute(delete(Ticket).where(Ticket.session_id == session_pk)))
    if tickets:  # a visitor's email left for an answer
        report["tickets"] += tickets
    await conn.execute(delete(Handoff).where(Handoff.session_id == session_pk))
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
