"""openai responses: what a `POST /v1/responses` asked besides its message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 14:10:00

One row per response, keyed by its answer (the assistant message), written in the transaction
that accepts the message; erasing a conversation deletes it before its message.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openai_responses",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_openai_responses_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_openai_responses")),
    )


def downgrade() -> None:
    op.drop_table("openai_responses")
