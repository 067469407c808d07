"""Handoff queries: state changes, the session's numbered events, and the messages written while
a person answers. Every function takes a connection and never commits.

Each state change is one conditional UPDATE (`… WHERE state = 'waiting'`): of two operators who
claim at once, on any workers, exactly one moves the row; the other meets the state it left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.config.handoff import HandoffWebhook
from chinwag.conversations.models import ChatSession, EndUser, Handoff, Message, MessageAuthor
from chinwag.conversations.models import SessionEvent as SessionEventRow
from chinwag.db.base import new_id
from chinwag.db.conflicts import insert_or_ignore
from chinwag.errors import (
    HandoffClaimedByAnother,
    HandoffNotClaimed,
    HandoffNotWaiting,
    SessionNotFound,
)
from chinwag.handoff.deliveries import enqueue
from chinwag.handoff.email import mailto
from chinwag.handoff.events import (
    SESSION_EVENT_ADAPTER,
    HandoffClaimed,
    HandoffClosed,
    HandoffReleased,
    HandoffWaiting,
    MessageAuthorOut,
    MessageCreated,
    Operator,
    SessionEvent,
)
from chinwag.streams.events import LogEntry

HELD = ("waiting", "claimed")  # states in which the bot does not answer


@dataclass(frozen=True, slots=True)
class Acting:
    """Who acts on a conversation: a key (admin or bot secret, or a console session's) or a
    signed-in operator, and the name the visitor sees."""

    key_id: str | None
    operator_id: str | None
    name: str
    is_admin: bool

    def holds(self, claimed_by_key: str | None, claimed_by_operator: str | None) -> bool:
        """Whether this is who claimed the conversation."""
        if self.operator_id is not None:
            return claimed_by_operator == self.operator_id
        return claimed_by_key is not None and claimed_by_key == self.key_id


async def find_session(conn: AsyncConnection, bot_id: str, session_id: str) -> RowMapping:
    """The session's `id`, `user_id` (pk), `user_external_id`, handoff `state` and
    `claimed_by_key` / `claimed_by_operator` / `claimed_by_name`; 404 if none."""
    row = (
        await conn.execute(
            select(
                ChatSession.id,
                ChatSession.user_id,
                EndUser.external_id.label("user_external_id"),
                Handoff.state,
                Handoff.claimed_by_key,
                Handoff.claimed_by_operator,
                Handoff.claimed_by_name,
            )
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .outerjoin(Handoff, Handoff.session_id == ChatSession.id)
            .where(ChatSession.bot_id == bot_id, ChatSession.external_id == session_id)
        )
    ).first()
    if row is None:
        raise SessionNotFound(f"session '{session_id}' does not exist")
    return row._mapping


async def held_state(conn: AsyncConnection, bot_id: str, session_id: str) -> str | None:
    """The session's state if a person has it or is asked for (locked until the transaction
    ends, so that a state change waits for a message being accepted); else None."""
    state = (
        await conn.execute(
            select(Handoff.state)
            .join(ChatSession, ChatSession.id == Handoff.session_id)
            .where(ChatSession.bot_id == bot_id, ChatSession.external_id == session_id)
            .with_for_update(of=Handoff)
        )
    ).scalar()
    return state if state in HELD else None


async def append_event(
    conn: AsyncConnection, session_pk: str, event: SessionEvent, now: datetime
) -> LogEntry:
    """Number the event (the next seq, under the handoff row's lock) and store it."""
    seq = (
        await conn.execute(
            update(Handoff)
            .where(Handoff.session_id == session_pk)
            .values(event_count=Handoff.event_count + 1)
            .returning(Handoff.event_count)
        )
    ).scalar_one()
    data = event.model_dump_json()
    await conn.execute(
        insert(SessionEventRow).values(
            session_id=session_pk, seq=seq, type=event.type, data=data, created_at=now
        )
    )
    return LogEntry.of(seq, event.type, data)


async def request_person(
    conn: AsyncConnection,
    *,
    session_pk: str,
    bot_id: str,
    by: str,
    within_hours: bool,
    now: datetime,
    webhook: HandoffWebhook | None = None,
    email: list[str] | None = None,
) -> tuple[str, LogEntry | None]:
    """Put the session in the operators' queue: (its state, the event) — a session already
    waiting or claimed stays so, without an event. With a `webhook`, its notice goes to the
    outbox in the same transaction."""
    await conn.execute(
        insert_or_ignore(conn, Handoff, unique=["session_id"]).values(
            session_id=session_pk, bot_id=bot_id, state="bot", event_count=0, updated_at=now
        )
    )
    moved = await conn.execute(
        update(Handoff)
        .where(Handoff.session_id == session_pk, Handoff.state.in_(("bot", "closed")))
        .values(
            state="waiting",
            requested_by=by,
            requested_at=now,
            updated_at=now,
            ticket_offered_at=None,
            ticket_reason=None,
        )
        .returning(Handoff.state)
    )
    if moved.first() is None:
        current = await conn.execute(select(Handoff.state).where(Handoff.session_id == session_pk))
        return current.scalar_one(), None
    event = HandoffWaiting(requested_by=by, within_hours=within_hours)
    urls = ([webhook.url] if webhook is not None else []) + ([mailto(email)] if email else [])
    if urls:
        session_id = await conn.execute(
            select(ChatSession.external_id).where(ChatSession.id == session_pk)
        )
        external_id = session_id.scalar_one()
        for url in urls:
            await enqueue(
                conn,
                url=url,
                bot_id=bot_id,
                session_id=external_id,
                requested_by=by,
                within_hours=within_hours,
                now=now,
            )
    return "waiting", await append_event(conn, session_pk, event, now)


async def claim(
    conn: AsyncConnection, *, session_pk: str, acting: Acting, now: datetime
) -> LogEntry:
    """Move a waiting session to `claimed` by `acting`; 409 `handoff_not_waiting` otherwise."""
    claimed = await conn.execute(
        update(Handoff)
        .where(Handoff.session_id == session_pk, Handoff.state == "waiting")
        .values(
            state="claimed",
            claimed_by_key=acting.key_id,
            claimed_by_operator=acting.operator_id,
            claimed_by_name=acting.name,
            claimed_at=now,
            updated_at=now,
        )
        .returning(Handoff.state)
    )
    if claimed.first() is None:
        state = (
            await conn.execute(select(Handoff.state).where(Handoff.session_id == session_pk))
        ).scalar()
        raise HandoffNotWaiting(
            f"the conversation is not waiting for a person (it is {state or 'bot'})"
        )
    return await append_event(
        conn, session_pk, HandoffClaimed(operator=Operator(name=acting.name)), now
    )


async def _must_hold(conn: AsyncConnection, session_pk: str, acting: Acting) -> str:
    """The state of a session that `acting` may act in: claimed by them (an admin: any
    claimed or waiting one), locked; 409 otherwise."""
    row = (
        await conn.execute(
            select(Handoff.state, Handoff.claimed_by_key, Handoff.claimed_by_operator)
            .where(Handoff.session_id == session_pk)
            .with_for_update()
        )
    ).first()
    if row is None:
        raise HandoffNotClaimed("the conversation is not claimed (it is bot)")
    return may_answer(acting, row.state, row.claimed_by_key, row.claimed_by_operator)


def may_answer(
    acting: Acting, state: str | None, claimed_by_key: str | None, claimed_by_operator: str | None
) -> str:
    """The state of a session `acting` may answer in: claimed by them (an admin: any claimed
    or waiting one); 409 otherwise."""
    if state not in HELD or (state == "waiting" and not acting.is_admin):
        raise HandoffNotClaimed(f"the conversation is not claimed (it is {state or 'bot'})")
    mine = acting.holds(claimed_by_key, claimed_by_operator)
    if state == "claimed" and not mine and not acting.is_admin:
        raise HandoffClaimedByAnother("another operator has claimed this conversation")
    return str(state)


async def hand_back(
    conn: AsyncConnection, *, session_pk: str, acting: Acting, now: datetime, close: bool
) -> LogEntry:
    """Hand the session back to the bot (`bot`), or close it (`closed`)."""
    await _must_hold(conn, session_pk, acting)
    await conn.execute(
        update(Handoff)
        .where(Handoff.session_id == session_pk)
        .values(
            state="closed" if close else "bot",
            claimed_by_key=None,
            claimed_by_operator=None,
            claimed_by_name=None,
            updated_at=now,
        )
    )
    event = HandoffClosed() if close else HandoffReleased()
    return await append_event(conn, session_pk, event, now)


async def add_message(
    conn: AsyncConnection,
    *,
    session_pk: str,
    text: str,
    now: datetime,
    operator: Acting | None = None,
) -> tuple[str, LogEntry]:
    """Store a message in the session (the visitor's, or `operator`'s) at the next position,
    with its `message.created` event: (message id, event)."""
    if operator is not None:
        await _must_hold(conn, session_pk, operator)
    position = (
        await conn.execute(
            update(ChatSession)
            .where(ChatSession.id == session_pk)
            .values(message_count=ChatSession.message_count + 1, last_message_at=now)
            .returning(ChatSession.message_count)
        )
    ).scalar_one()
    message_id = new_id()
    await conn.execute(
        insert(Message).values(
            id=message_id,
            session_id=session_pk,
            position=position,
            role="user" if operator is None else "assistant",
            content=text,
            status="complete",
            created_at=now,
            finished_at=now,
        )
    )
    if operator is not None:
        await conn.execute(
            insert(MessageAuthor).values(
                message_id=message_id,
                key_id=operator.key_id,
                operator_id=operator.operator_id,
                name=operator.name,
            )
        )
    author = (
        MessageAuthorOut(kind="visitor")
        if operator is None
        else MessageAuthorOut(kind="operator", name=operator.name)
    )
    event = MessageCreated(
        message_id=message_id,
        role="user" if operator is None else "assistant",
        author=author,
        text=text,
        created_at=now,
    )
    return message_id, await append_event(conn, session_pk, event, now)


async def events_after(
    conn: AsyncConnection, session_pk: str, after: int, *, limit: int
) -> list[LogEntry]:
    rows = await conn.execute(
        select(SessionEventRow.seq, SessionEventRow.type, SessionEventRow.data)
        .where(SessionEventRow.session_id == session_pk, SessionEventRow.seq > after)
        .order_by(SessionEventRow.seq)
        .limit(limit)
    )
    return [LogEntry.of(r.seq, r.type, r.data) for r in rows]


def parse_session_event(data: str) -> SessionEvent:
    return SESSION_EVENT_ADAPTER.validate_json(data)


async def purge_session_events(
    conn: AsyncConnection, bot_id: str, cutoff: datetime, size: int
) -> int:
    """Up to `size` of the bot's session events older than `cutoff` (retention: they carry the
    messages' text, so they go with the messages)."""
    old = (
        select(SessionEventRow.session_id, SessionEventRow.seq)
        .join(ChatSession, ChatSession.id == SessionEventRow.session_id)
        .where(ChatSession.bot_id == bot_id, SessionEventRow.created_at < cutoff)
        .limit(size)
    )
    deleted = await conn.execute(
        delete(SessionEventRow).where(
            tuple_(SessionEventRow.session_id, SessionEventRow.seq).in_(old)
        )
    )
    return max(int(deleted.rowcount or 0), 0)
