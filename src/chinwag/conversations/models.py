"""End users, chat sessions and messages, with every foreign key declared and enforced."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    cast,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from chinwag.db.base import Base, utcnow
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH


class EndUser(Base):
    """A person talking to one bot, known by the id the embedding site gives (or a new one)."""

    __tablename__ = "end_users"
    __table_args__ = (
        UniqueConstraint("bot_id", "external_id"),
        # Lets chat_sessions reference (user, bot) so a session can never mix two bots.
        UniqueConstraint("id", "bot_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_LENGTH))
    # What the site says about a verified user (an end-user token's), for the console.
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatSession(Base):
    """One conversation of one end user with one bot."""

    __tablename__ = "chat_sessions"
    __table_args__ = (
        UniqueConstraint("bot_id", "external_id"),
        ForeignKeyConstraint(["user_id", "bot_id"], ["end_users.id", "end_users.bot_id"]),
        # The console lists a bot's conversations newest first.
        Index("ix_chat_sessions_bot_id_last_message_at", "bot_id", "last_message_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    user_id: Mapped[str] = mapped_column(String(36))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX_LENGTH))
    # Bumped under the row lock by every accepted message: gives messages a gap-free order.
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def no_citations() -> ColumnElement[bool]:
    """An answer given no sources: `citations` is SQL NULL or JSON null (how None is written)."""
    return func.coalesce(cast(Message.citations, Text), "null") == "null"


class Message(Base):
    """One turn of a session; assistant messages move from `streaming` to a final status."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "position"),
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        CheckConstraint(
            "status IN ('complete', 'streaming', 'interrupted', 'failed')", name="status"
        ),
        # The console's day-by-day charts read messages by time; on PostgreSQL the index also
        # carries what the activity and latency charts need (index-only scans).
        Index(
            "ix_messages_created_at",
            "created_at",
            postgresql_include=["session_id", "role", "ttft_ms", "finished_at"],
        ),
        # The console's "declined" filter: declined answers only (few), by reason and session.
        Index(
            "ix_messages_declined",
            "declined",
            "session_id",
            postgresql_where=text("declined IS NOT NULL"),
            sqlite_where=text("declined IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    reply_to_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id"), nullable=True, index=True
    )
    bot_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # How the router chose this answer's flows: {strategy, flows, scores, ms, error?}.
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # The knowledge sources main's answer was given: [{document, title, score, snippet}].
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # Time to the first token of the answer, from the generation's start (None: no token came).
    ttft_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Why the answer policy declined this answer (`out_of_scope`, `unanswerable`); None: it
    # did not (the decline's scores are in `route`).
    declined: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IdempotencyKey(Base):
    """The first result of a POST sent with an Idempotency-Key, kept for replays."""

    __tablename__ = "idempotency_keys"

    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    user_message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FlowRun(Base):
    """One flow that ran for one assistant message: its route score, status, timing and tool
    call."""

    __tablename__ = "flow_runs"
    __table_args__ = (
        UniqueConstraint("message_id", "flow"),
        CheckConstraint("status IN ('completed', 'failed')", name="status"),
        Index("ix_flow_runs_bot_id_created_at", "bot_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    flow: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    ms: Mapped[float] = mapped_column(Float)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The flow's tool call (ToolOutcome.record: arguments redacted, no response); None: none.
    tool: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # `main`'s function calls, each as `tool` is, with its step and call id; None: none.
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Feedback(Base):
    """An end user's rating of one answer: +1 or -1 and an optional comment; changeable."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        CheckConstraint("rating IN (-1, 1)", name="rating"),
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("end_users.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


EVERY_BOT = "*"  # the DailyCharts scope of charts over every bot (not a valid bot id)


class DailyCharts(Base):
    """The per-day charts of one closed day, as the console computed them from the messages
    (counts and percentiles, nothing about a person), for one bot or every bot (`*`).

    Deleting messages marks their days stale (and bumps `generation`, so a fold computed from
    the rows before the deletion cannot be written over it); a stale or missing day is computed
    from the messages until it is folded again.
    """

    __tablename__ = "daily_charts"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    charts: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    folded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OpenAIResponse(Base):
    """An answer asked for through the OpenAI Responses API (`POST /v1/responses`): what the
    request said that its messages do not hold (instructions, metadata, store, background,
    previous_response_id, sampling), for `GET /v1/responses/{id}`. Written with the message."""

    __tablename__ = "openai_responses"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)


# The human handoff (chinwag.handoff): a session's state, who wrote an operator's message, and
# the session-level event log the widget follows while a person answers.
HANDOFF_STATES = ("bot", "waiting", "claimed", "closed")


class Handoff(Base):
    """A session's handoff state; a session without a row is answered by the bot.

    `event_count` numbers the session's events (bumped under this row's lock, so gap-free)."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("state IN ('bot', 'waiting', 'claimed', 'closed')", name="state"),
        CheckConstraint(
            "(state = 'claimed') = (claimed_by_key IS NOT NULL OR claimed_by_operator IS NOT NULL)",
            name="claimed_by",
        ),
        # The operators' queue: a bot's waiting conversations, oldest first.
        Index("ix_handoffs_bot_id_state_requested_at", "bot_id", "state", "requested_at"),
    )

    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    state: Mapped[str] = mapped_column(String(16))
    # How the visitor asked: `button` (the API / widget) or `words` (a message).
    requested_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Who claimed it: a key (a bot secret or admin key, or a console session of one), or an
    # operator signed in with email and password.
    claimed_by_key: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    claimed_by_operator: Mapped[str | None] = mapped_column(
        ForeignKey("operators.id"), nullable=True
    )
    claimed_by_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When the visitor was offered the ticket form (after hours, or nobody claimed in time).
    ticket_offered_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    ticket_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageAuthor(Base):
    """The person who wrote an operator's message (an `assistant` message no LLM wrote)."""

    __tablename__ = "message_authors"
    __table_args__ = (
        CheckConstraint("(key_id IS NULL) <> (operator_id IS NULL)", name="one_author"),
    )

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True, index=True)
    operator_id: Mapped[str | None] = mapped_column(
        ForeignKey("operators.id"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200))


class SessionEvent(Base):
    """One numbered event of a session's log (`seq` = 1, 2, … with no gaps)."""

    __tablename__ = "session_events"

    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


ACTION_STATUSES = ("pending", "confirmed", "cancelled", "done", "failed")


class ToolAction(Base):
    """A call a flow would make that changes something, held until the visitor confirms it;
    `arguments` are what will be sent (cleared once decided; for `main`'s function call, the
    call and the conversation its model goes on from: engine.held_calls), `shown` what events
    show."""

    __tablename__ = "tool_actions"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in ACTION_STATUSES) + ")", name="status"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    # The assistant message that asked for the confirmation (its session is the action's).
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    flow: Mapped[str] = mapped_column(String(40))
    tool: Mapped[str] = mapped_column(String(40))
    arguments: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    shown: Mapped[dict[str, Any]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)  # the question asked (what will be done)
    request: Mapped[str] = mapped_column(Text)  # the visitor's message that asked for it
    status: Mapped[str] = mapped_column(String(16))
    # The call as recorded (ToolOutcome.record: redacted, no response) once it ran.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ToolActionDecision(Base):
    """The visitor's answer to an action: one per action (its primary key), so a retried,
    resumed or second tab's answer can never make the call again."""

    __tablename__ = "tool_action_decisions"
    __table_args__ = (CheckConstraint("decision IN ('confirm', 'cancel')", name="decision"),)

    action_id: Mapped[str] = mapped_column(ForeignKey("tool_actions.id"), primary_key=True)
    # The visitor's message that decided it.
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    decision: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One notice to a bot's handoff webhook (an outbox: written with the change it reports,
    sent and retried by any worker): its exact signed body, attempts and outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    session_id: Mapped[str] = mapped_column(String(200))  # external id: no row to keep alive
    url: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_http_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Ticket(Base):
    """A visitor's request to be answered by email (outside opening hours, or when nobody
    claimed the conversation in time), with the consent they gave, word for word."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("reason IN ('after_hours', 'no_one_claimed')", name="reason"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    consent_text: Mapped[str] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
