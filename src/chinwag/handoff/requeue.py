"""A removed operator's conversations go back to the queue: none is left claimed by nobody."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.service import get_bot
from chinwag.conversations.models import Handoff
from chinwag.handoff.events import HandoffWaiting
from chinwag.handoff.hours import within_hours
from chinwag.handoff.service import append_event
from chinwag.streams.events import LogEntry


async def requeue_claimed_by(
    conn: AsyncConnection, *, operator_id: str, now: datetime
) -> list[tuple[str, LogEntry]]:
    """Move the operator's claimed conversations back to `waiting`, each with its
    `handoff.waiting` event: [(session pk, event)] to publish after the commit."""
    rows = (
        await conn.execute(
            select(Handoff.session_id, Handoff.bot_id, Handoff.requested_by)
            .where(Handoff.claimed_by_operator == operator_id, Handoff.state == "claimed")
            .order_by(Handoff.session_id)
            .with_for_update()
        )
    ).all()
    moved = []
    for row in rows:
        await conn.execute(
            update(Handoff)
            .where(Handoff.session_id == row.session_id)
            .values(
                state="waiting",
                claimed_by_key=None,
                claimed_by_operator=None,
                claimed_by_name=None,
                updated_at=now,
            )
        )
        hours = (await get_bot(conn, row.bot_id)).config.handoff.hours
        event = HandoffWaiting(
            requested_by="words" if row.requested_by == "words" else "button",
            within_hours=within_hours(hours, now),
        )
        moved.append((row.session_id, await append_event(conn, row.session_id, event, now)))
    return moved
