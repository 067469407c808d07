"""knowledge ingestion jobs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("bot_id", sa.String(length=64), nullable=False),
        sa.Column("worker_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_knowledge_jobs_status")
        ),
        sa.ForeignKeyConstraint(
            ["bot_id"], ["bots.id"], name=op.f("fk_knowledge_jobs_bot_id_bots")
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["workers.id"], name=op.f("fk_knowledge_jobs_worker_id_workers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_jobs")),
    )
    op.create_index(op.f("ix_knowledge_jobs_bot_id"), "knowledge_jobs", ["bot_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_knowledge_jobs_bot_id"), table_name="knowledge_jobs")
    op.drop_table("knowledge_jobs")
