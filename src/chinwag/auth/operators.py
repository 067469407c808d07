"""Operators: people who answer handed-over conversations, signed in by email and password.

Passwords are hashed with argon2 (argon2-cffi) in a worker thread: hashing is deliberately slow
and never runs on the event loop. A sign-in for an unknown email still verifies a hash, so the
time taken does not tell which emails exist. argon2 is imported at the first sign-in or new
operator: a worker nobody signs in to never loads it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.models import Operator, OperatorBot
from chinwag.auth.principal import Principal
from chinwag.bots.models import Bot
from chinwag.db.base import new_id, utcnow
from chinwag.errors import BotNotFound, InvalidRequest, OperatorExists, Unauthenticated

if TYPE_CHECKING:
    from argon2 import PasswordHasher

OperatorRole = Literal["admin", "operator"]
MIN_PASSWORD = 10
# What an unknown email's sign-in verifies: a hash of no one's password with argon2-cffi's
# default parameters, the ones `_hasher()` hashes with (tests/auth check they still match).
# A constant, so that no process spends ~0.2 s and 64 MiB hashing it at import.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$yfq3O6vWh3ivNTy2HtS2OA"
    "$kp0yOm9FPon42Zp/gsAPop0yXr1YoIYyGutzlM1WNDI"
)


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def _verify(stored: str, password: str) -> bool:
    """Whether `password` is the one `stored` hashes (a thread's work: it takes ~0.1 s)."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    id: str
    name: str
    email: str
    role: OperatorRole
    bots: frozenset[str]  # assigned bots (an `admin` answers every bot's)


def normal_email(email: str) -> str:
    return email.strip().lower()


async def add_operator(
    conn: AsyncConnection,
    *,
    name: str,
    email: str,
    password: str,
    role: OperatorRole,
    bots: list[str],
) -> OperatorInfo:
    """Create an operator with an argon2 hash of the password, assigned to `bots` (a removed
    operator with this email comes back, under the same id)."""
    email = normal_email(email)
    if "@" not in email:
        raise InvalidRequest(f"'{email}' is not an email address", hint="Give name@example.com.")
    if len(password) < MIN_PASSWORD:
        raise InvalidRequest(
            f"the password is shorter than {MIN_PASSWORD} characters",
            hint="Choose a longer password (a passphrase of a few words is good).",
        )
    known = set((await conn.execute(select(Bot.id).where(Bot.id.in_(bots)))).scalars())
    missing = sorted(set(bots) - known)
    if missing:
        raise BotNotFound(f"bot '{missing[0]}' does not exist")
    taken = (
        await conn.execute(select(Operator.id, Operator.removed_at).where(Operator.email == email))
    ).first()
    if taken is not None and taken.removed_at is None:
        raise OperatorExists(f"an operator with email '{email}' exists")
    hashed = await asyncio.to_thread(_hasher().hash, password)
    if taken is not None:  # a removed operator comes back, with a new password, role and bots
        operator_id = taken.id
        await conn.execute(
            update(Operator)
            .where(Operator.id == operator_id)
            .values(name=name, password_hash=hashed, role=role, removed_at=None)
        )
        await conn.execute(delete(OperatorBot).where(OperatorBot.operator_id == operator_id))
    else:
        operator_id = new_id()
        await conn.execute(
            insert(Operator).values(
                id=operator_id,
                name=name,
                email=email,
                password_hash=hashed,
                role=role,
                created_at=utcnow(),
            )
        )
    if bots:
        await conn.execute(
            insert(OperatorBot), [{"operator_id": operator_id, "bot_id": b} for b in bots]
        )
    return OperatorInfo(operator_id, name, email, role, frozenset(bots))


async def find_operator(conn: AsyncConnection, operator_id: str) -> OperatorInfo | None:
    row = (
        await conn.execute(
            select(Operator.id, Operator.name, Operator.email, Operator.role).where(
                Operator.id == operator_id, Operator.removed_at.is_(None)
            )
        )
    ).first()
    if row is None:
        return None
    bots = await conn.execute(
        select(OperatorBot.bot_id).where(OperatorBot.operator_id == operator_id)
    )
    role: OperatorRole = "admin" if row.role == "admin" else "operator"
    return OperatorInfo(row.id, row.name, row.email, role, frozenset(bots.scalars()))


async def check_password(conn: AsyncConnection, email: str, password: str) -> OperatorInfo:
    """The operator with this email and password; 401 otherwise (the same for both)."""
    row = (
        await conn.execute(
            select(Operator.id, Operator.password_hash).where(Operator.email == normal_email(email))
        )
    ).first()
    stored = row.password_hash if row is not None else DUMMY_HASH
    verified = await asyncio.to_thread(_verify, stored, password) and row is not None
    found = await find_operator(conn, row.id) if verified and row is not None else None
    if found is None:
        raise Unauthenticated(
            "the email or password is not right",
            hint="Check both; an admin creates operators with `chinwag operators add`.",
        )
    return found


def operator_principal(operator: OperatorInfo) -> Principal:
    """The caller a signed-in operator is: their bots (None for the `admin` role: every bot)."""
    bots = None if operator.role == "admin" else operator.bots
    return Principal("operator", operator.id, None, operator_bots=bots)
