"""Handoff analytics over a window of time, for the caller's bots (or one of them): how often
conversations ask for a person, how long visitors wait for a person's first reply (p50, p95),
how handoffs end (handed back to the bot, closed by a person, a ticket), read from the
sessions' own logs."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.principal import Principal
from chinwag.conversations.models import ChatSession, SessionEvent, Ticket
from chinwag.handoff.inbox import bots_of
from chinwag.handoff.schemas import HandoffStats
from chinwag.timestamps import as_utc

EVENTS_READ = 100_000  # a bound on one computation (a busy shop's month is far below)
COUNTED = ("handoff.waiting", "message.created", "handoff.released", "handoff.closed")


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (`share` in 0-1) of `values`; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


async def handoff_stats(
    conn: AsyncConnection,
    principal: Principal,
    *,
    since: datetime,
    until: datetime,
    bot_id: str | None = None,
) -> HandoffStats:
    """From `since` (included) to `until` (excluded); one bot of the caller's, or all."""

    def scope(column: Any) -> ColumnElement[bool]:
        mine = bots_of(principal, column)
        return mine if bot_id is None else and_(mine, column == bot_id)

    conversations = (
        await conn.execute(
            select(func.count())
            .select_from(ChatSession)
            .where(
                scope(ChatSession.bot_id),
                ChatSession.last_message_at >= since,
                ChatSession.last_message_at < until,
            )
        )
    ).scalar_one()
    rows = await conn.execute(
        select(
            SessionEvent.session_id, SessionEvent.type, SessionEvent.data, SessionEvent.created_at
        )
        .join(ChatSession, ChatSession.id == SessionEvent.session_id)
        .where(
            scope(ChatSession.bot_id),
            SessionEvent.created_at >= since,
            SessionEvent.created_at < until,
            SessionEvent.type.in_(COUNTED),
        )
        .order_by(SessionEvent.session_id, SessionEvent.seq)
        .limit(EVENTS_READ)
    )
    asked_in: set[str] = set()
    requests = released = closed = 0
    waits: list[float] = []
    waiting_since: dict[str, datetime] = {}
    for session_id, kind, data, created_at in rows:
        at = as_utc(created_at)
        if kind == "handoff.waiting":
            requests += 1
            asked_in.add(session_id)
            waiting_since[session_id] = at
        elif kind == "message.created" and session_id in waiting_since:
            if orjson.loads(data).get("role") == "assistant":  # a person's first reply
                waits.append((at - waiting_since.pop(session_id)).total_seconds())
        elif kind == "handoff.released":
            released += 1
        elif kind == "handoff.closed":
            closed += 1
    tickets = (
        await conn.execute(
            select(func.count())
            .select_from(Ticket)
            .where(scope(Ticket.bot_id), Ticket.created_at >= since, Ticket.created_at < until)
        )
    ).scalar_one()
    return HandoffStats(
        bot_id=bot_id,
        since=since,
        until=until,
        days=math.ceil((until - since).total_seconds() / 86_400),
        conversations=conversations,
        conversations_with_handoff=len(asked_in),
        conversations_resolved_by_the_bot=max(conversations - len(asked_in), 0),
        handoff_rate=len(asked_in) / conversations if conversations else None,
        requests=requests,
        answered_by_a_person=len(waits),
        first_reply_p50_seconds=percentile(waits, 0.5),
        first_reply_p95_seconds=percentile(waits, 0.95),
        handed_back=released,
        closed_by_a_person=closed,
        tickets=tickets,
    )
