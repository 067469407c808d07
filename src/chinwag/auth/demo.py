"""The keys `chinwag demo` prints: fresh each run, the previous run's revoked."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.keys import create_key
from chinwag.auth.models import ApiKey
from chinwag.db.base import utcnow

DEMO_KEY_NAME = "demo"


async def demo_keys(conn: AsyncConnection, bot_id: str, *, origin: str) -> list[str]:
    """A secret and a publishable key (for `origin`) of the demo bot: [secret, publishable]."""
    await conn.execute(
        update(ApiKey)
        .where(ApiKey.name == DEMO_KEY_NAME, ApiKey.bot_id == bot_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    secret = await create_key(conn, kind="secret", name=DEMO_KEY_NAME, bot_id=bot_id)
    publishable = await create_key(
        conn, kind="publishable", name=DEMO_KEY_NAME, bot_id=bot_id, allowed_origins=[origin]
    )
    return [secret.key, publishable.key]
