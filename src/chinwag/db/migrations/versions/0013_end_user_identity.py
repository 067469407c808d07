"""end users' display name and email, as the embedding site vouches for them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:00:00

Both are nullable columns added in place (SQLite's ALTER TABLE ADD COLUMN; batch mode does not
recreate the table for it), so every constraint and foreign key of `end_users` stays as it is.
A site sets them with an end-user token for a verified user id; the console shows them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("end_users") as batch:
        batch.drop_column("email")
        batch.drop_column("display_name")
