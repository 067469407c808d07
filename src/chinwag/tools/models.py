"""Actions waiting for the visitor's confirmation, and the one decision each may get."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chinwag.db.base import Base, utcnow

ACTION_STATUSES = ("pending", "confirmed", "cancelled", "done", "failed")


class ToolAction(Base):
    """A call a flow would make that changes something, held until the visitor confirms it;
    `arguments` are what will be sent (cleared once decided), `shown` what events show."""

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
