"""The handoff's tables: a session's state, who wrote an operator's message, and the
session-level event log the widget follows while a person answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chinwag.db.base import Base, utcnow

HANDOFF_STATES = ("bot", "waiting", "claimed", "closed")


class Handoff(Base):
    """A session's handoff state; a session without a row is answered by the bot.

    `event_count` numbers the session's events (bumped under this row's lock, so gap-free)."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("state IN ('bot', 'waiting', 'claimed', 'closed')", name="state"),
        CheckConstraint("(state = 'claimed') = (claimed_by_key IS NOT NULL)", name="claimed_by"),
        # The operators' queue: a bot's waiting conversations, oldest first.
        Index("ix_handoffs_bot_id_state_requested_at", "bot_id", "state", "requested_at"),
    )

    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"))
    state: Mapped[str] = mapped_column(String(16))
    # How the visitor asked: `button` (the API / widget) or `words` (a message).
    requested_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claimed_by_key: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    claimed_by_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageAuthor(Base):
    """The person who wrote an operator's message (an `assistant` message no LLM wrote)."""

    __tablename__ = "message_authors"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class SessionEvent(Base):
    """One numbered event of a session's log (`seq` = 1, 2, … with no gaps)."""

    __tablename__ = "session_events"

    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
