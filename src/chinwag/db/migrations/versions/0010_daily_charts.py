"""daily charts: the console's per-day charts of closed days, folded once

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 17:00:00

The table starts empty: the server's fold job (chinwag.console.rollups) fills it on its first
pass after the upgrade, and until a day is folded the charts compute it from the messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "daily_charts",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("charts", sa.JSON(), nullable=True),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "day", name=op.f("pk_daily_charts")),
    )


def downgrade() -> None:
    op.drop_table("daily_charts")
