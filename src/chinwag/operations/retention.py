"""Retention: purge stream events, finished streams and (where a bot sets it) old messages
with a handoff's session events.

Every batch is its own short write transaction, children before parents, so foreign keys hold
and no table is locked for long; a stream still being written is never touched.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.operator_admin import purge_lockouts
from chinwag.auth.sessions import purge_sessions
from chinwag.bots.service import list_bots
from chinwag.conversations.erase import delete_messages
from chinwag.conversations.models import ChatSession, Message
from chinwag.db.base import utcnow
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError
from chinwag.handoff.service import purge_session_events
from chinwag.settings import Settings
from chinwag.streams.store import delete_streams, finished_streams, purge_events

log = logging.getLogger(__name__)


@dataclass
class Purged:
    stream_events: int = 0
    streams: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # per bot
    session_events: int = 0  # a handoff's, with the messages they carry

    @property
    def anything(self) -> bool:
        return bool(
            self.stream_events or self.streams or any(self.messages.values()) or self.session_events
        )

    def summary(self) -> str:
        messages = ", ".join(f"{bot} {n}" for bot, n in self.messages.items() if n) or "0"
        handoff = f", session events: {self.session_events}" if self.session_events else ""
        return (
            f"stream events: {self.stream_events}, streams: {self.streams}, "
            f"messages: {messages}{handoff}"
        )


async def purge(db: Database, settings: Settings, *, now: datetime | None = None) -> Purged:
    """One pass of every retention rule, in batches; returns what was deleted."""
    now = now or utcnow()
    size = settings.gc_batch_size
    purged = Purged()
    events_cutoff = now - timedelta(seconds=settings.retention_events_seconds)
    streams_cutoff = now - timedelta(seconds=settings.retention_streams_seconds)
    while True:
        async with db.write() as conn:
            ids = await finished_streams(conn, events_cutoff, size, with_events=True)
            if not ids:
                break
            purged.stream_events += await purge_events(conn, ids, now)
    while True:
        async with db.write() as conn:
            ids = await finished_streams(conn, streams_cutoff, size, with_events=False)
            if not ids:
                break
            events, streams = await delete_streams(conn, ids)
            purged.stream_events += events
            purged.streams += streams
    async with db.write() as conn:  # expired console sign-ins, old lockouts: a few rows
        await purge_sessions(conn)
        await purge_lockouts(conn, now)
    async with db.read() as conn:
        bots = await list_bots(conn)
    for bot in bots:
        days = bot.config.retention.message_days if bot.config.retention else None
        if days:
            cutoff = now - timedelta(days=days)
            purged.messages[bot.id] = 0
            while True:
                async with db.write() as conn:
                    deleted = await _purge_messages(conn, bot.id, cutoff, size)
                if not deleted:
                    break
                purged.messages[bot.id] += deleted
            while True:
                async with db.write() as conn:
                    deleted = await purge_session_events(conn, bot.id, cutoff, size)
                if not deleted:
                    break
                purged.session_events += deleted
    return purged


async def _purge_messages(conn: AsyncConnection, bot_id: str, cutoff: datetime, size: int) -> int:
    """Up to `size` finished messages of the bot older than `cutoff`, with everything below."""
    ids = (
        (
            await conn.execute(
                select(Message.id)
                .join(ChatSession, ChatSession.id == Message.session_id)
                .where(
                    ChatSession.bot_id == bot_id,
                    Message.created_at < cutoff,
                    Message.status != "streaming",
                )
                .limit(size)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0
    return (await delete_messages(conn, ids))["messages"]


async def gc_forever(db: Database, settings: Settings) -> None:
    """The background job: one purge pass every CHINWAG_GC_INTERVAL_SECONDS; logs what went."""
    while True:
        await asyncio.sleep(settings.gc_interval_seconds)
        try:
            purged = await purge(db, settings)
        except ChinwagError as exc:  # the database is away; the next pass tries again
            log.warning("retention pass failed: %s (%s)", exc.message, exc.code)
            continue
        if purged.anything:
            log.info("retention purged %s", purged.summary())
