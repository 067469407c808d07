"""declined answers: why the answer policy declined an answer, for the console's filter and
charts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:00:00

`messages.declined` is `out_of_scope`, `unanswerable` or NULL (answered, or a user message).
The partial index holds declined answers only: the console's "declined" filter finds their
sessions without reading every message. Folded chart days predate the declines chart, so they
are marked stale (and their generation bumped, so a fold computed before the upgrade is not
written over them): the next fold computes them again with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECLINED = sa.text("declined IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("declined", sa.String(length=16), nullable=True))
    op.create_index(
        "ix_messages_declined",
        "messages",
        ["declined", "session_id"],
        unique=False,
        postgresql_where=DECLINED,
        sqlite_where=DECLINED,
    )
    daily_charts = sa.table(
        "daily_charts", sa.column("stale", sa.Boolean), sa.column("generation", sa.Integer)
    )
    op.execute(daily_charts.update().values(stale=True, generation=daily_charts.c.generation + 1))


def downgrade() -> None:
    op.drop_index("ix_messages_declined", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("declined")
