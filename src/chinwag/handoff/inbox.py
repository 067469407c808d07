"""The console's inbox: every conversation a caller may answer that waits for a person, is
claimed, or was closed lately, across their bots; and a feed that sends it again whenever it
changes, read from the database so that it is the same on every worker."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.principal import Principal
from chinwag.conversations.models import ChatSession, EndUser, Handoff, Message, Ticket
from chinwag.db.uow import Database
from chinwag.errors import DatabaseUnavailable
from chinwag.handoff.schemas import InboxItem, InboxOut, InboxTicket
from chinwag.streams.events import LogEntry

INBOX_POLL_SECONDS = 1.0  # how often an open inbox looks for changes (one small query)
OPEN_LIMIT = 200  # waiting or claimed conversations listed (the count is exact)
CLOSED_LIMIT = 50  # the most recently closed
TICKETS_LIMIT = 50  # the latest tickets


def bots_of(principal: Principal, bot_id: Any = Handoff.bot_id) -> ColumnElement[bool]:
    """The caller's bots: every bot (admin key, admin operator), a secret key's, an operator's."""
    if principal.kind == "operator" and principal.operator_bots is not None:
        return bot_id.in_(sorted(principal.operator_bots))  # type: ignore[no-any-return]
    if principal.kind == "secret":
        return bot_id == principal.bot_id  # type: ignore[no-any-return]
    return true()


def _mine(principal: Principal) -> ColumnElement[bool]:
    if principal.kind == "operator":
        return Handoff.claimed_by_operator == principal.key_id
    return Handoff.claimed_by_key == principal.key_id


def _listing(principal: Principal) -> Select[*tuple[Any, ...]]:
    last = (
        select(Message.content)
        .where(Message.session_id == ChatSession.id, Message.role == "user")
        .order_by(Message.position.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Handoff.bot_id,
            ChatSession.external_id.label("session_id"),
            EndUser.external_id.label("user_id"),
            EndUser.display_name,
            EndUser.email,
            Handoff.state,
            Handoff.requested_by,
            Handoff.requested_at,
            Handoff.claimed_by_name,
            Handoff.updated_at,
            Handoff.ticket_offered_at,
            ChatSession.last_message_at,
            _mine(principal).label("mine"),
            last.label("last_message"),
        )
        .join(ChatSession, ChatSession.id == Handoff.session_id)
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .where(bots_of(principal))
    )


async def inbox(conn: AsyncConnection, principal: Principal) -> InboxOut:
    """Waiting (longest first), claimed (mine flagged) and recently closed conversations."""
    base = _listing(principal)
    held = await conn.execute(
        base.where(Handoff.state.in_(("waiting", "claimed")))
        .order_by(Handoff.requested_at, Handoff.session_id)
        .limit(2 * OPEN_LIMIT)
    )
    closed = await conn.execute(
        base.where(Handoff.state == "closed")
        .order_by(Handoff.updated_at.desc(), Handoff.session_id)
        .limit(CLOSED_LIMIT)
    )
    tickets = await conn.execute(
        select(Ticket, ChatSession.external_id.label("session_external_id"))
        .join(ChatSession, ChatSession.id == Ticket.session_id)
        .where(bots_of(principal, Ticket.bot_id))
        .order_by(Ticket.created_at.desc(), Ticket.id)
        .limit(TICKETS_LIMIT)
    )
    items = [_item(r._mapping) for r in held]
    waiting = [i for i in items if i.state == "waiting"]
    claimed = [i for i in items if i.state == "claimed"]
    return InboxOut(
        waiting=waiting[:OPEN_LIMIT],
        claimed=claimed[:OPEN_LIMIT],
        closed=[_item(r._mapping) for r in closed],
        waiting_count=len(waiting),
        mine_count=sum(i.mine for i in claimed),
        tickets=[
            InboxTicket(
                bot_id=t.bot_id,
                session_id=t.session_external_id,
                email=t.email,
                reason=t.reason,
                created_at=t.created_at,
            )
            for t in tickets
        ],
    )


def _item(r: RowMapping) -> InboxItem:
    return InboxItem(
        bot_id=r["bot_id"],
        session_id=r["session_id"],
        user_id=r["user_id"],
        user_name=r["display_name"] or r["email"],
        state=r["state"],
        requested_by=r["requested_by"],
        requested_at=r["requested_at"],
        operator=r["claimed_by_name"],
        mine=bool(r["mine"]),
        last_message=r["last_message"],
        last_message_at=r["last_message_at"],
        updated_at=r["updated_at"],
        ticket_offered=r["ticket_offered_at"] is not None,
    )


StillAllowed = Callable[[AsyncConnection], Awaitable[bool]]


class InboxFeed:
    """The inbox as SSE: an `inbox` event with the whole inbox at once, then again each time it
    changes (looked up every INBOX_POLL_SECONDS; heartbeats in between). It ends as soon as
    `allowed` says no (the console session ended, the key was revoked)."""

    def __init__(
        self,
        db: Database,
        principal: Principal,
        heartbeat_seconds: float,
        allowed: StillAllowed,
    ) -> None:
        self.db = db
        self.principal = principal
        self.heartbeat_seconds = heartbeat_seconds
        self.allowed = allowed
        self._closed = asyncio.Event()

    async def entries(self) -> AsyncIterator[list[LogEntry]]:
        sent, count, quiet_since = "", 0, time.monotonic()
        while not self._closed.is_set():
            try:
                async with self.db.read() as conn:
                    if not await self.allowed(conn):
                        return
                    data = (await inbox(conn, self.principal)).model_dump_json()
            except (DatabaseUnavailable, DBAPIError, OSError):
                data = sent  # the database is away: keep the reader; look again soon
            if data != sent:
                sent, count, quiet_since = data, count + 1, time.monotonic()
                yield [LogEntry.of(count, "inbox", data)]
            elif time.monotonic() - quiet_since >= self.heartbeat_seconds:
                quiet_since = time.monotonic()
                yield []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), INBOX_POLL_SECONDS)

    def close(self) -> None:
        self._closed.set()
