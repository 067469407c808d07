"""Console sign-ins: a random cookie value, stored only as its hash, valid while its key is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.keys import KeyInfo, find_key
from chinwag.auth.models import ApiKey, ConsoleSession
from chinwag.db.base import utcnow

COOKIE = "chinwag_console"
CSRF_HEADER = "x-csrf-token"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(secret: bytes, token: str) -> str:
    """The CSRF token of a session: derived from its cookie, so nothing more is stored."""
    return hmac.new(secret, f"csrf:{token}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(secret: bytes, token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(secret, token), given)


async def start_session(conn: AsyncConnection, *, key_id: str, seconds: int) -> str:
    """A new session for this key; returns the cookie value (shown to the browser only)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await conn.execute(
        insert(ConsoleSession).values(
            token_hash=token_hash(token),
            key_id=key_id,
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    return token


async def session_key(conn: AsyncConnection, token: str) -> KeyInfo | None:
    """The active key behind an unexpired session, or None (expired, signed out, or revoked)."""
    key_id = (
        await conn.execute(
            select(ConsoleSession.key_id)
            .join(ApiKey, ApiKey.id == ConsoleSession.key_id)
            .where(
                ConsoleSession.token_hash == token_hash(token),
                ConsoleSession.expires_at > utcnow(),
                ApiKey.revoked_at.is_(None),
            )
        )
    ).scalar()
    return None if key_id is None else await find_key(conn, key_id=key_id)


async def end_session(conn: AsyncConnection, token: str) -> None:
    """Sign out: the cookie value stops working everywhere at once."""
    await conn.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))


async def purge_sessions(conn: AsyncConnection) -> int:
    """Delete expired sessions (retention); returns how many."""
    result = await conn.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= utcnow()))
    return result.rowcount or 0
