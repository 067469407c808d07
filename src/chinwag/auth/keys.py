"""Create, list, revoke and look up API keys; the database only ever sees a key's hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.auth.models import ApiKey
from chinwag.bots.service import get_bot
from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import InvalidRequest, KeyNotFound

KeyKind = Literal["admin", "secret", "publishable"]
PREFIXES: dict[str, str] = {"admin": "cw_admin_", "secret": "cw_sk_", "publishable": "cw_pk_"}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What is known about a key without the key itself."""

    id: str
    kind: KeyKind
    bot_id: str | None
    name: str
    prefix: str
    allowed_origins: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewKey:
    info: KeyInfo
    key: str  # shown once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def normalise_origin(origin: str) -> str:
    """`https://Shop.example/` → `https://shop.example`; an origin has no path."""
    value = origin.strip().rstrip("/").lower()
    if not value.startswith(("http://", "https://")) or "/" in value.split("://", 1)[1]:
        raise InvalidRequest(
            f"'{origin}' is not an origin",
            hint="An origin is scheme://host[:port], e.g. https://shop.example.",
        )
    return value


async def create_key(
    conn: AsyncConnection,
    *,
    kind: KeyKind,
    name: str,
    bot_id: str | None = None,
    allowed_origins: list[str] | None = None,
) -> NewKey:
    """A new random key of `kind`; bot keys need an existing bot, publishable ones origins."""
    if kind == "admin":
        if bot_id is not None:
            raise InvalidRequest("an admin key belongs to no bot", hint="Leave out the bot.")
    else:
        if bot_id is None:
            raise InvalidRequest(f"a {kind} key belongs to one bot", hint="Name the bot.")
        await get_bot(conn, bot_id)
    origins = [normalise_origin(o) for o in allowed_origins or []]
    if kind == "publishable" and not origins:
        raise InvalidRequest(
            "a publishable key needs the origins of the sites that embed the widget",
            hint="Pass --origin https://shop.example (once per site).",
        )
    if kind != "publishable" and origins:
        raise InvalidRequest(
            "only publishable keys have allowed origins",
            hint="Secret and admin keys are for servers; leave out the origins.",
        )
    key = PREFIXES[kind] + secrets.token_urlsafe(32)
    row: dict[str, object] = {
        "id": new_id(),
        "kind": kind,
        "bot_id": bot_id,
        "name": name,
        "prefix": key[: len(PREFIXES[kind]) + 6],
        "key_hash": hash_key(key),
        "allowed_origins": origins or None,
        "created_at": utcnow(),
        "revoked_at": None,
    }
    await conn.execute(insert(ApiKey).values(row))
    return NewKey(info=_info(row), key=key)


async def list_keys(
    conn: AsyncConnection, *, bot_id: str | None = None, include_revoked: bool = False
) -> list[KeyInfo]:
    query = select(ApiKey.__table__).order_by(ApiKey.created_at, ApiKey.id)
    if bot_id is not None:
        query = query.where(ApiKey.bot_id == bot_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_info(dict(r._mapping)) for r in (await conn.execute(query)).all()]


async def revoke_key(conn: AsyncConnection, key_id: str, *, bot_id: str | None = None) -> KeyInfo:
    """Revoke a key by id (idempotent); `bot_id` limits it to that bot's keys."""
    query = select(ApiKey.__table__).where(ApiKey.id == key_id)
    if bot_id is not None:
        query = query.where(ApiKey.bot_id == bot_id)
    row = (await conn.execute(query)).first()
    if row is None:
        raise KeyNotFound(f"key '{key_id}' does not exist")
    values = dict(row._mapping)
    if values["revoked_at"] is None:
        values["revoked_at"] = utcnow()
        await conn.execute(
            update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=values["revoked_at"])
        )
    return _info(values)


async def find_key(
    conn: AsyncConnection, *, key: str | None = None, key_id: str | None = None
) -> KeyInfo | None:
    """The active key with this value (or id), or None."""
    query = select(ApiKey.__table__).where(ApiKey.revoked_at.is_(None))
    if key is not None:
        query = query.where(ApiKey.key_hash == hash_key(key))
    if key_id is not None:
        query = query.where(ApiKey.id == key_id)
    row = (await conn.execute(query)).first()
    return None if row is None else _info(dict(row._mapping))


def _info(row: dict[str, object]) -> KeyInfo:
    origins = row.get("allowed_origins") or []
    assert isinstance(origins, list)
    return KeyInfo(
        id=str(row["id"]),
        kind=row["kind"],  # type: ignore[arg-type]
        bot_id=row["bot_id"],  # type: ignore[arg-type]
        name=str(row["name"]),
        prefix=str(row["prefix"]),
        allowed_origins=tuple(origins),
        created_at=row["created_at"],  # type: ignore[arg-type]
        revoked_at=row["revoked_at"],  # type: ignore[arg-type]
    )


class KeyCache:
    """Active keys by value for a few seconds, so a request costs no database round trip.

    A key revoked on this server stops working at once; on other servers within `ttl` seconds.
    """

    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._ttl = ttl
        self._found: dict[str, tuple[float, KeyInfo | None]] = {}
        self._origins: tuple[float, frozenset[str]] | None = None

    async def lookup(self, key: str) -> KeyInfo | None:
        """The active key with this value."""
        return await self._cached(key, key=key)

    async def lookup_id(self, key_id: str) -> KeyInfo | None:
        """The active key with this id (end-user tokens name the key they were issued under)."""
        return await self._cached(f"id:{key_id}", key_id=key_id)

    async def _cached(
        self, slot: str, *, key: str | None = None, key_id: str | None = None
    ) -> KeyInfo | None:
        now = time.monotonic()
        hit = self._found.get(slot)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        async with self._db.read() as conn:
            info = await find_key(conn, key=key, key_id=key_id)
        if len(self._found) > 10_000:  # unknown keys must not grow this without bound
            self._found.clear()
        self._found[slot] = (now, info)
        return info

    async def allowed_origins(self) -> frozenset[str]:
        """Every origin of every active publishable key (for CORS preflight requests)."""
        now = time.monotonic()
        if self._origins is not None and now - self._origins[0] < self._ttl:
            return self._origins[1]
        async with self._db.read() as conn:
            keys = await list_keys(conn)
        origins = frozenset(o for k in keys for o in k.allowed_origins)
        self._origins = (now, origins)
        return origins

    def forget(self) -> None:
        """Drop everything cached (after a key was created or revoked here)."""
        self._found.clear()
        self._origins = None
