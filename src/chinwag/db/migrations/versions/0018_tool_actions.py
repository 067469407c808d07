"""tool actions: calls that change something, held until the visitor confirms, and the one
decision each may get

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:20:00

New tables only. `tool_action_decisions.action_id` is the primary key: a second answer to
the same action (a retry, a resumed stream, another tab) cannot be inserted, so the call is
made at most once. Erasing a conversation deletes decisions, then actions, before messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tool_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("tool", sa.String(length=40), nullable=False),
        sa.Column("arguments", sa.JSON(), nullable=True),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled', 'done', 'failed')",
            name=op.f("ck_tool_actions_status"),
        ),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_tool_actions_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_tool_actions_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_actions")),
    )
    op.create_index(
        op.f("ix_tool_actions_message_id"), "tool_actions", ["message_id"], unique=False
    )
    op.create_table(
        "tool_action_decisions",
        sa.Column("action_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirm', 'cancel')", name=op.f("ck_tool_action_decisions_decision")
        ),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["tool_actions.id"],
            name=op.f("fk_tool_action_decisions_action_id_tool_actions"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_tool_action_decisions_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_tool_action_decisions")),
    )
    op.create_index(
        op.f("ix_tool_action_decisions_message_id"),
        "tool_action_decisions",
        ["message_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_tool_action_decisions_message_id"), table_name="tool_action_decisions")
    op.drop_table("tool_action_decisions")
    op.drop_index(op.f("ix_tool_actions_message_id"), table_name="tool_actions")
    op.drop_table("tool_actions")
