"""flow run tool calls: main's function calls (each as flow_runs.tool is, with its step and
call id)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:00:00

`flow_runs.tool_calls` is NULL unless `main` called tools by function calling. Like
`flow_runs.tool` it never holds a response, a header or a secret (docs/tools.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("tool_calls", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("tool_calls")
