"""Workers, streams and stream events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chinwag.db.base import Base, utcnow


class Worker(Base):
    """A running server process; its heartbeat tells whether its generations are alive."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Written with each heartbeat: since when this worker's event log has failed to commit
    # (NULL while it commits); `chinwag doctor` reports the streams of a worker failing too long.
    log_failing_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class Stream(Base):
    """One generation of one assistant message."""

    __tablename__ = "streams"
    __table_args__ = (
        CheckConstraint(
            "status IN ('streaming', 'completed', 'failed', 'interrupted')", name="status"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), unique=True)
    worker_id: Mapped[str | None] = mapped_column(ForeignKey("workers.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="streaming", index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    events_purged_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class LoggedEvent(Base):
    """One numbered event of a stream as stored; `data` is the event's JSON, serialised once.

    (The event itself, typed, is `chinwag.streams.events.StreamEvent`.)"""

    __tablename__ = "stream_events"

    stream_id: Mapped[str] = mapped_column(ForeignKey("streams.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
