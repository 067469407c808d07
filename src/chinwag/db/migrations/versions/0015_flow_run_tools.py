"""flow run tools: the tool call a flow made (tool, status, code, HTTP status, ms, size,
redacted arguments)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 15:00:00

`flow_runs.tool` is NULL for flows that call no tool. It never holds the response, a header
or a secret: only what ToolOutcome.record() keeps (docs/tools.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("tool", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("tool")
