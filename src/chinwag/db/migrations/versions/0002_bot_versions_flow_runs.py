"""bot versions, flow runs, message routes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bot_versions",
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_bot_versions_bot_id_bots")),
        sa.PrimaryKeyConstraint("bot_id", "version", name=op.f("pk_bot_versions")),
    )
    # Every existing bot's active configuration becomes its first recorded version.
    op.execute(
        "INSERT INTO bot_versions (bot_id, version, config, note, created_at) "
        "SELECT id, version, config, 'recorded by migration 0002', updated_at FROM bots"
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("flow", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("ms", sa.Float(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('completed', 'failed')", name=op.f("ck_flow_runs_status")),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"], name=op.f("fk_flow_runs_bot_id_bots")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_flow_runs_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.UniqueConstraint("message_id", "flow", name=op.f("uq_flow_runs_message_id_flow")),
    )
    op.create_index(
        "ix_flow_runs_bot_id_created_at", "flow_runs", ["bot_id", "created_at"], unique=False
    )
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("route", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("route")
    op.drop_index("ix_flow_runs_bot_id_created_at", table_name="flow_runs")
    op.drop_table("flow_runs")
    op.drop_table("bot_versions")
