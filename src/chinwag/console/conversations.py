"""Conversations across bots for the console and the API: search with filters, transcripts."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.console.tool_calls import answer_calls
from chinwag.conversations.history import find_session
from chinwag.conversations.models import (
    ChatSession,
    EndUser,
    Feedback,
    FlowRun,
    Handoff,
    Message,
    MessageAuthor,
    no_citations,
)
from chinwag.db.base import utcnow
from chinwag.errors import InvalidRequest, SessionNotFound
from chinwag.timestamps import as_utc

AnswerStatus = Literal["failed", "interrupted"]
DeclinedFilter = Literal["any", "out_of_scope", "unanswerable"]
DECLINE_REASONS = ("out_of_scope", "unanswerable")


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    """What the conversation list and its export are narrowed to; None means "any"."""

    bot_id: str | None = None
    since: date | None = None  # sessions with a message on or after this day (UTC)
    until: date | None = None  # … on or before this day
    text: str | None = None  # in any message of the session
    user_id: str | None = None  # the end user's external id
    rating: Literal["down", "up"] | None = None
    has_comment: bool = False
    status: AnswerStatus | None = None
    flow: str | None = None  # an auxiliary flow the router chose
    no_sources: bool = False  # an answer that retrieved no sources
    version: int | None = None  # an answer made by this bot version
    declined: DeclinedFilter | None = None  # an answer the answer policy declined (so)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=utcnow().tzinfo)


def filtered_sessions(filters: ConversationFilters) -> Select[*tuple[Any, ...]]:
    """Sessions (with their user's external id, display name and email) matching every filter,
    newest activity first."""
    query = (
        select(
            ChatSession,
            EndUser.external_id.label("user_external_id"),
            EndUser.display_name.label("user_display_name"),
            EndUser.email.label("user_email"),
        )
        .join(EndUser, EndUser.id == ChatSession.user_id)
        .order_by(ChatSession.last_message_at.desc(), ChatSession.id.desc())
    )
    f = filters
    if f.bot_id is not None:
        query = query.where(ChatSession.bot_id == f.bot_id)
    if f.since is not None:
        query = query.where(ChatSession.last_message_at >= _start(f.since))
    if f.until is not None:
        query = query.where(ChatSession.created_at < _start(f.until + timedelta(days=1)))
    if f.user_id is not None:
        query = query.where(EndUser.external_id == f.user_id)
    in_session = Message.session_id == ChatSession.id
    if f.text:
        query = query.where(
            exists().where(in_session, func.lower(Message.content).like(_like(f.text), "\\"))
        )
    answer = (in_session, Message.role == "assistant")
    if f.status is not None:
        query = query.where(exists().where(*answer, Message.status == f.status))
    if f.no_sources:
        query = query.where(exists().where(*answer, Message.status == "complete", no_citations()))
    if f.version is not None:
        query = query.where(exists().where(*answer, Message.bot_version == f.version))
    if f.declined is not None:  # ix_messages_declined holds declined answers only
        reason = (
            Message.declined.is_not(None) if f.declined == "any" else Message.declined == f.declined
        )
        query = query.where(exists().where(in_session, reason))
    if f.flow is not None:
        query = query.where(
            exists().where(in_session, FlowRun.message_id == Message.id, FlowRun.flow == f.flow)
        )
    if f.rating is not None or f.has_comment:
        rated = [in_session, Feedback.message_id == Message.id]
        if f.rating is not None:
            rated.append(Feedback.rating == (-1 if f.rating == "down" else 1))
        if f.has_comment:
            rated += [Feedback.comment.is_not(None), Feedback.comment != ""]
        query = query.where(exists().where(*rated))
    return query


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page of the conversation list ended: its last session's (activity, id)."""

    last_message_at: datetime
    session_pk: str

    def cursor(self) -> str:
        """Opaque to clients: base64url of the position's JSON."""
        text = json.dumps([as_utc(self.last_message_at).isoformat(), self.session_pk])
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    @classmethod
    def of(cls, cursor: str) -> Position:
        try:
            at, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            return cls(as_utc(datetime.fromisoformat(at)), str(pk))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise InvalidRequest(
                "the cursor is not one this list gave",
                hint="Pass the `next_cursor` of the previous page as it was, or no cursor.",
                errors=[{"path": "query.cursor", "message": "not a cursor of this list"}],
            ) from exc


def after(position: Position) -> Any:
    """Sessions after `position` in the list's order (newest activity first, then id)."""
    return or_(
        ChatSession.last_message_at < position.last_message_at,
        and_(
            ChatSession.last_message_at == position.last_message_at,
            ChatSession.id < position.session_pk,
        ),
    )


async def search_conversations(
    conn: AsyncConnection, filters: ConversationFilters, *, after_: Position | None, limit: int
) -> tuple[list[dict[str, Any]], Position | None]:
    """One page of matching conversations, each with its first question, its 👎 count and its
    declined answers by reason; and where the next page starts (None: this is the last).

    Keyset paging: a page starts after the previous one's last row, so paging reaches every
    conversation however many there are, and a new conversation never shifts a later page."""
    query = filtered_sessions(filters)
    if after_ is not None:
        query = query.where(after(after_))
    rows = (await conn.execute(query.limit(limit + 1))).all()
    page = rows[:limit]
    ids = [r.id for r in page]
    firsts: dict[str, str] = {}
    downs: dict[str, int] = {}
    declined: dict[str, dict[str, int]] = {}
    if ids:
        firsts = {
            r.session_id: r.content
            for r in await conn.execute(
                select(Message.session_id, Message.content).where(
                    Message.session_id.in_(ids), Message.position == 1
                )
            )
        }
        downs = {
            r.session_id: r.n
            for r in await conn.execute(
                select(Message.session_id, func.count().label("n"))
                .join(Feedback, Feedback.message_id == Message.id)
                .where(Message.session_id.in_(ids), Feedback.rating == -1)
                .group_by(Message.session_id)
            )
        }
        for r in await conn.execute(
            select(Message.session_id, Message.declined, func.count().label("n"))
            .where(Message.session_id.in_(ids), Message.declined.is_not(None))
            .group_by(Message.session_id, Message.declined)
        ):
            declined.setdefault(r.session_id, dict.fromkeys(DECLINE_REASONS, 0))[r.declined] = r.n
    items = [
        {
            "bot_id": r.bot_id,
            "session_id": r.external_id,
            "user_id": r.user_external_id,
            "user_display_name": r.user_display_name,
            "user_email": r.user_email,
            "message_count": r.message_count,
            "first_message": firsts.get(r.id, "")[:200],
            "thumbs_down": downs.get(r.id, 0),
            "declined": declined.get(r.id, dict.fromkeys(DECLINE_REASONS, 0)),
            "created_at": as_utc(r.created_at),
            "last_message_at": as_utc(r.last_message_at),
        }
        for r in page
    ]
    last = page[-1] if page else None
    more = last is not None and len(rows) > limit
    return items, Position(last.last_message_at, last.id) if more and last else None


async def transcript(conn: AsyncConnection, *, bot_id: str, session_id: str) -> dict[str, Any]:
    """A session with every message; answers carry their route, flow runs, tool calls,
    sources, usage, TTFT, bot version and feedback."""
    session = await find_session(conn, bot_id, session_id)
    if session is None:
        raise SessionNotFound(f"session '{session_id}' does not exist")
    messages = (
        await conn.execute(
            select(Message, MessageAuthor.name.label("author_name"))
            .outerjoin(MessageAuthor, MessageAuthor.message_id == Message.id)
            .where(Message.session_id == session.id)
            .order_by(Message.position)
        )
    ).all()
    ids = [m.id for m in messages]
    handoff = (
        await conn.execute(
            select(Handoff.state, Handoff.claimed_by_name).where(Handoff.session_id == session.id)
        )
    ).first()
    runs: dict[str, list[dict[str, Any]]] = {}
    calls: dict[str, list[dict[str, Any]]] = {}
    for r in await conn.execute(
        select(FlowRun).where(FlowRun.message_id.in_(ids)).order_by(FlowRun.id)
    ):
        runs.setdefault(r.message_id, []).append(
            {
                "flow": r.flow,
                "status": r.status,
                "score": r.score,
                "ms": r.ms,
                "usage": r.usage,
                "error_code": r.error_code,
                "tool": r.tool,
            }
        )
        calls.setdefault(r.message_id, []).extend(answer_calls(r.flow, r.tool, r.tool_calls))
    ratings: dict[str, list[dict[str, Any]]] = {}
    for f in await conn.execute(
        select(Feedback, EndUser.external_id.label("user_external_id"))
        .join(EndUser, EndUser.id == Feedback.user_id)
        .where(Feedback.message_id.in_(ids))
    ):
        ratings.setdefault(f.message_id, []).append(
            {
                "user_id": f.user_external_id,
                "rating": f.rating,
                "comment": f.comment,
                "updated_at": as_utc(f.updated_at),
            }
        )
    return {
        "bot_id": bot_id,
        "session_id": session_id,
        "user_id": session.user_external_id,
        "user_display_name": session.user_display_name,
        "user_email": session.user_email,
        "title": _title(messages),
        "created_at": as_utc(session.created_at),
        "last_message_at": as_utc(session.last_message_at),
        "handoff": {
            "state": handoff.state if handoff else "bot",
            "operator": handoff.claimed_by_name if handoff else None,
        },
        "messages": [
            {
                "id": m.id,
                "position": m.position,
                "role": m.role,
                "author": _author(m.role, m.author_name),
                "content": m.content,
                "status": m.status,
                "error_code": m.error_code,
                "declined": m.declined,
                "reply_to_id": m.reply_to_id,
                "bot_version": m.bot_version,
                "usage": m.usage,
                "ttft_ms": m.ttft_ms,
                "total_ms": _elapsed_ms(m.created_at, m.finished_at),
                "route": m.route,
                "sources": m.citations or [],
                "flow_runs": runs.get(m.id, []),
                "tool_calls": calls.get(m.id, []),
                "feedback": ratings.get(m.id, []),
                "created_at": as_utc(m.created_at),
                "finished_at": as_utc(m.finished_at) if m.finished_at else None,
            }
            for m in messages
        ],
    }


def _author(role: str, operator: str | None) -> dict[str, str | None]:
    if operator is not None:
        return {"kind": "operator", "name": operator}
    return {"kind": "visitor" if role == "user" else "bot", "name": None}


TITLE_LENGTH = 80


def _title(messages: Sequence[Any]) -> str | None:
    """The conversation's first question, cut at a word within TITLE_LENGTH characters."""
    first = next((m.content for m in messages if m.role == "user" and m.content.strip()), None)
    if first is None:
        return None
    text = " ".join(first.split())
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[: TITLE_LENGTH - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def _elapsed_ms(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (as_utc(end) - as_utc(start)).total_seconds() * 1000
