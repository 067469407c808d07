"""Managing operators: the list, removal (their console sessions end at once), and the record
of sign-in lockouts. Every function takes a connection and never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.models import Operator, OperatorBot, SignInLockout
from chinwag.auth.operators import OperatorInfo, find_operator
from chinwag.auth.schemas import LockoutOut, OperatorOut
from chinwag.auth.sessions import end_operator_sessions
from chinwag.errors import OperatorNotFound

LOCKOUTS_KEPT = timedelta(days=90)  # retention of the lockout record
LOCKOUTS_LISTED = 100


async def list_operators(conn: AsyncConnection) -> list[OperatorOut]:
    """Every operator not removed, by name, with their bots."""
    rows = (
        await conn.execute(
            select(Operator.id, Operator.name, Operator.email, Operator.role, Operator.created_at)
            .where(Operator.removed_at.is_(None))
            .order_by(Operator.name, Operator.email)
        )
    ).all()
    bots: dict[str, list[str]] = {}
    for operator_id, bot_id in await conn.execute(
        select(OperatorBot.operator_id, OperatorBot.bot_id).order_by(OperatorBot.bot_id)
    ):
        bots.setdefault(operator_id, []).append(bot_id)
    return [
        OperatorOut(
            id=r.id,
            name=r.name,
            email=r.email,
            role=r.role,
            bots=None if r.role == "admin" else bots.get(r.id, []),
            created_at=r.created_at,
        )
        for r in rows
    ]


def operator_out(operator: OperatorInfo, created_at: datetime) -> OperatorOut:
    bots = None if operator.role == "admin" else sorted(operator.bots)
    return OperatorOut(
        id=operator.id,
        name=operator.name,
        email=operator.email,
        role=operator.role,
        bots=bots,
        created_at=created_at,
    )


async def remove_operator(conn: AsyncConnection, operator_id: str, now: datetime) -> OperatorInfo:
    """Remove an operator: they can no longer sign in, and every console session of theirs
    ends at once. The row stays (the messages they wrote name them); 404 if none."""
    found = await find_operator(conn, operator_id)
    if found is None:
        raise OperatorNotFound(f"no operator has the id '{operator_id}'")
    await conn.execute(update(Operator).where(Operator.id == operator_id).values(removed_at=now))
    await conn.execute(delete(OperatorBot).where(OperatorBot.operator_id == operator_id))
    await end_operator_sessions(conn, operator_id)
    return found


async def record_lockout(
    conn: AsyncConnection, *, email: str, client_ip: str, scope: str, now: datetime, window: float
) -> bool:
    """Keep a lockout (once per lockout: attempts refused within `window` seconds of a
    recorded one are the same lockout); whether a row was added."""
    recent = await conn.execute(
        select(SignInLockout.id).where(
            SignInLockout.email == email,
            SignInLockout.client_ip == client_ip,
            SignInLockout.scope == scope,
            SignInLockout.created_at > now - timedelta(seconds=window),
        )
    )
    if recent.first() is not None:
        return False
    await conn.execute(
        insert(SignInLockout).values(
            email=email[:254], client_ip=client_ip[:64], scope=scope, created_at=now
        )
    )
    return True


async def list_lockouts(conn: AsyncConnection) -> list[LockoutOut]:
    rows = await conn.execute(
        select(SignInLockout)
        .order_by(SignInLockout.created_at.desc(), SignInLockout.id.desc())
        .limit(LOCKOUTS_LISTED)
    )
    return [
        LockoutOut(email=r.email, client_ip=r.client_ip, scope=r.scope, created_at=r.created_at)
        for r in rows
    ]


async def purge_lockouts(conn: AsyncConnection, now: datetime) -> int:
    """Delete lockouts older than LOCKOUTS_KEPT (retention); returns how many."""
    result = await conn.execute(
        delete(SignInLockout).where(SignInLockout.created_at < now - LOCKOUTS_KEPT)
    )
    return max(int(result.rowcount or 0), 0)
