"""bot versions keep the owner's YAML text

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 14:15:00

`bot_versions.source` is the YAML the version was saved from (comments and layout as the owner
wrote them), or NULL for a version saved as JSON; the console's editor and diffs show it. A
nullable column added in place: the table's foreign key to `bots` stays as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bot_versions") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bot_versions") as batch:
        batch.drop_column("source")
