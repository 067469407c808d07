"""handoff: operators, a session's handoff state, message authors, session-level events

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 16:00:00

New tables only: operators (email, argon2 password hash, role, assigned bots, console
sessions); a session without a `handoffs` row is answered by the bot, as every session was
before. Operators' messages are `assistant` messages with a `message_authors` row (the key or
operator, and the display name, of who wrote them); `session_events` is the numbered log the
widget follows while a person answers. Erasing a conversation deletes these rows before their
parents.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'operator')", name=op.f("ck_operators_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_operators_email")),
    )
    op.create_table(
        "operator_bots",
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_operator_bots_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_operator_bots_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("operator_id", "bot_id", name=op.f("pk_operator_bots")),
    )
    op.create_index(op.f("ix_operator_bots_bot_id"), "operator_bots", ["bot_id"], unique=False)
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_sessions_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_operator_sessions")),
    )
    op.create_index(
        op.f("ix_operator_sessions_operator_id"),
        "operator_sessions",
        ["operator_id"],
        unique=False,
    )
    op.create_table(
        "handoffs",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by_key", sa.String(length=36), nullable=True),
        sa.Column("claimed_by_operator", sa.String(length=36), nullable=True),
        sa.Column("claimed_by_name", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('bot', 'waiting', 'claimed', 'closed')", name=op.f("ck_handoffs_state")
        ),
        sa.CheckConstraint(
            "(state = 'claimed') = (claimed_by_key IS NOT NULL OR claimed_by_operator IS NOT NULL)",
            name=op.f("ck_handoffs_claimed_by"),
        ),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_handoffs_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["claimed_by_key"], ["api_keys.id"], name=op.f("fk_handoffs_claimed_by_key_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_by_operator"],
            ["operators.id"],
            name=op.f("fk_handoffs_claimed_by_operator_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["chat_sessions.id"], name=op.f("fk_handoffs_session_id_chat_sessions")
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_handoffs")),
    )
    op.create_index(
        "ix_handoffs_bot_id_state_requested_at",
        "handoffs",
        ["bot_id", "state", "requested_at"],
        unique=False,
    )
    op.create_table(
        "message_authors",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.Column("operator_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "(key_id IS NULL) <> (operator_id IS NULL)", name=op.f("ck_message_authors_one_author")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_message_authors_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_message_authors_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_authors_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_authors")),
    )
    op.create_index(op.f("ix_message_authors_key_id"), "message_authors", ["key_id"], unique=False)
    op.create_index(
        op.f("ix_message_authors_operator_id"), "message_authors", ["operator_id"], unique=False
    )
    op.create_table(
        "session_events",
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["chat_sessions.id"],
            name=op.f("fk_session_events_session_id_chat_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "seq", name=op.f("pk_session_events")),
    )


def downgrade() -> None:
    op.drop_table("session_events")
    op.drop_index(op.f("ix_message_authors_operator_id"), table_name="message_authors")
    op.drop_index(op.f("ix_message_authors_key_id"), table_name="message_authors")
    op.drop_table("message_authors")
    op.drop_index("ix_handoffs_bot_id_state_requested_at", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_index(op.f("ix_operator_sessions_operator_id"), table_name="operator_sessions")
    op.drop_table("operator_sessions")
    op.drop_index(op.f("ix_operator_bots_bot_id"), table_name="operator_bots")
    op.drop_table("operator_bots")
    op.drop_table("operators")
