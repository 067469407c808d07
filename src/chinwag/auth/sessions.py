"""Console sign-ins: a random cookie value, stored only as its hash, that names an API key or
an operator, and is valid while that key is (not revoked) or that operator is (not removed)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.keys import KeyInfo, find_key
from chinwag.auth.models import ApiKey, ConsoleSession, Operator
from chinwag.auth.operators import OperatorInfo, find_operator
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


async def start_session(
    conn: AsyncConnection,
    *,
    seconds: int,
    key_id: str | None = None,
    operator_id: str | None = None,
) -> str:
    """A new session for a key or an operator (one of them); returns the cookie value (shown
    to the browser only)."""
    if (key_id is None) == (operator_id is None):
        raise ValueError("a console session is a key's or an operator's")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    await conn.execute(
        insert(ConsoleSession).values(
            token_hash=token_hash(token),
            key_id=key_id,
            operator_id=operator_id,
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
        )
    )
    return token


async def session_holder(conn: AsyncConnection, token: str) -> KeyInfo | OperatorInfo | None:
    """The active key or operator behind an unexpired session, or None (expired, signed out,
    the key revoked or the operator removed)."""
    row = (
        await conn.execute(
            select(ConsoleSession.key_id, ConsoleSession.operator_id)
            .outerjoin(ApiKey, ApiKey.id == ConsoleSession.key_id)
            .outerjoin(Operator, Operator.id == ConsoleSession.operator_id)
            .where(
                ConsoleSession.token_hash == token_hash(token),
                ConsoleSession.expires_at > utcnow(),
                or_(
                    and_(ApiKey.id.is_not(None), ApiKey.revoked_at.is_(None)),
                    and_(Operator.id.is_not(None), Operator.removed_at.is_(None)),
                ),
            )
        )
    ).first()
    if row is None:
        return None
    if row.key_id is not None:
        return await find_key(conn, key_id=row.key_id)
    return await find_operator(conn, row.operator_id)


async def end_session(conn: AsyncConnection, token: str) -> None:
    """Sign out: the cookie value stops working everywhere at once."""
    await conn.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))


async def end_operator_sessions(conn: AsyncConnection, operator_id: str) -> int:
    """Every session of an operator ends at once (they were removed); returns how many."""
    result = await conn.execute(
        delete(ConsoleSession).where(ConsoleSession.operator_id == operator_id)
    )
    return max(int(result.rowcount or 0), 0)


async def purge_sessions(conn: AsyncConnection) -> int:
    """Delete expired sessions (retention); returns how many."""
    result = await conn.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= utcnow()))
    return result.rowcount or 0
