"""What an embedding site says about a verified end user: a display name and an email."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import EndUser
from chinwag.db.base import new_id, utcnow
from chinwag.db.conflicts import dialect_insert


async def remember_identity(
    conn: AsyncConnection,
    *,
    bot_id: str,
    external_id: str,
    display_name: str | None,
    email: str | None,
) -> None:
    """Create the end user (first contact) or update them, in one statement: a given field is
    stored, one left out (None) keeps what was stored before."""
    given = {
        name: value
        for name, value in (("display_name", display_name), ("email", email))
        if value is not None
    }
    if not given:
        return
    statement = dialect_insert(conn, EndUser).values(
        id=new_id(), bot_id=bot_id, external_id=external_id, created_at=utcnow(), **given
    )
    await conn.execute(
        statement.on_conflict_do_update(index_elements=["bot_id", "external_id"], set_=given)
    )
