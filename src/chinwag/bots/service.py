"""Bot storage: every saved change is a new, immutable version. Functions never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.models import Bot
from chinwag.bots.models import BotVersion as BotVersionRow
from chinwag.config.bot import BotConfig
from chinwag.db.base import utcnow
from chinwag.errors import BotNotFound, BotVersionNotFound


@dataclass(frozen=True, slots=True)
class BotVersion:
    id: str
    version: int
    config: BotConfig
    created: bool = False  # this call saved a new version


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: int
    created_at: datetime
    note: str | None
    active: bool


def config_json(config: BotConfig) -> dict[str, Any]:
    """The stored (and exported) form of a configuration: no unset optional fields."""
    return config.model_dump(mode="json", exclude_none=True)


# Built once: every accepted message reads it.
_ACTIVE_VERSION = select(Bot.version).where(Bot.id == bindparam("b_bot_id"))


async def get_bot_version(conn: AsyncConnection, bot_id: str) -> int:
    """The bot's active version, or BotNotFound."""
    version = (await conn.execute(_ACTIVE_VERSION, {"b_bot_id": bot_id})).scalar()
    if version is None:
        raise BotNotFound(f"bot '{bot_id}' does not exist")
    return version


async def get_bot(conn: AsyncConnection, bot_id: str) -> BotVersion:
    """The bot's active version and configuration."""
    row = (await conn.execute(select(Bot.version, Bot.config).where(Bot.id == bot_id))).first()
    if row is None:
        raise BotNotFound(f"bot '{bot_id}' does not exist")
    return BotVersion(bot_id, row.version, BotConfig.model_validate(row.config))


async def get_version(conn: AsyncConnection, bot_id: str, version: int) -> BotConfig:
    """One saved version's configuration."""
    config = (
        await conn.execute(
            select(BotVersionRow.config).where(
                BotVersionRow.bot_id == bot_id, BotVersionRow.version == version
            )
        )
    ).scalar()
    if config is None:
        await get_bot_version(conn, bot_id)  # BotNotFound when the bot itself is missing
        raise BotVersionNotFound(f"bot '{bot_id}' has no version {version}")
    return BotConfig.model_validate(config)


async def get_source(conn: AsyncConnection, bot_id: str, version: int) -> str | None:
    """The YAML text a version was saved from (None: it was saved as JSON)."""
    source: str | None = (
        await conn.execute(
            select(BotVersionRow.source).where(
                BotVersionRow.bot_id == bot_id, BotVersionRow.version == version
            )
        )
    ).scalar()
    return source


async def list_bots(conn: AsyncConnection) -> list[BotVersion]:
    rows = (await conn.execute(select(Bot.id, Bot.version, Bot.config).order_by(Bot.id))).all()
    return [BotVersion(r.id, r.version, BotConfig.model_validate(r.config)) for r in rows]


async def list_versions(conn: AsyncConnection, bot_id: str) -> list[VersionInfo]:
    active = await get_bot_version(conn, bot_id)
    rows = (
        await conn.execute(
            select(BotVersionRow.version, BotVersionRow.created_at, BotVersionRow.note)
            .where(BotVersionRow.bot_id == bot_id)
            .order_by(BotVersionRow.version)
        )
    ).all()
    return [VersionInfo(r.version, r.created_at, r.note, r.version == active) for r in rows]


async def put_bot(
    conn: AsyncConnection,
    config: BotConfig,
    *,
    note: str | None = None,
    source: str | None = None,
    text_counts: bool = False,
) -> BotVersion:
    """Create the bot, or save and activate a new version when its configuration changed.

    `source` is the YAML text it was read from, kept with a new version. With `text_counts`
    (the console's editor, a rollback) a changed text is a change too: a new comment is a new
    version; without it (a file imported again) an unchanged configuration saves nothing.

    The caller has validated `config` (and that `source` is its YAML); nothing here activates
    a configuration with errors.
    """
    data = config_json(config)
    row = (
        await conn.execute(
            select(Bot.version, Bot.config).where(Bot.id == config.id).with_for_update()
        )
    ).first()
    now = utcnow()
    if row is None:
        await conn.execute(
            insert(Bot).values(
                id=config.id,
                name=config.name,
                config=data,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        await _insert_version(conn, config.id, 1, data, note or "created", now, source)
        return BotVersion(config.id, 1, config, created=True)
    if row.config == data and (
        not text_counts
        or source is None
        or source == await get_source(conn, config.id, row.version)
    ):
        return BotVersion(config.id, row.version, config)
    latest = (
        await conn.execute(
            select(func.max(BotVersionRow.version)).where(BotVersionRow.bot_id == config.id)
        )
    ).scalar() or row.version
    version = latest + 1
    await _insert_version(conn, config.id, version, data, note, now, source)
    await conn.execute(
        update(Bot)
        .where(Bot.id == config.id)
        .values(name=config.name, config=data, version=version, updated_at=now)
    )
    return BotVersion(config.id, version, config, created=True)


async def rollback(conn: AsyncConnection, bot_id: str, to_version: int) -> BotVersion:
    """Activate an earlier configuration again, as a new version (history only grows)."""
    config = await get_version(conn, bot_id, to_version)
    source = await get_source(conn, bot_id, to_version)
    return await put_bot(
        conn, config, note=f"rollback to version {to_version}", source=source, text_counts=True
    )


async def _insert_version(
    conn: AsyncConnection,
    bot_id: str,
    version: int,
    data: dict[str, Any],
    note: str | None,
    now: datetime,
    source: str | None,
) -> None:
    # The text only when there is one: a version saved as JSON writes the columns it always
    # had (so a database being upgraded from before migration 0013 takes it too).
    text = {"source": source} if source is not None else {}
    await conn.execute(
        insert(BotVersionRow).values(
            bot_id=bot_id, version=version, config=data, note=note, created_at=now, **text
        )
    )


class BotCache:
    """Parsed configurations by (bot, version); versions never change, so entries never expire."""

    def __init__(self) -> None:
        self._configs: dict[tuple[str, int], BotConfig] = {}

    def cached(self, bot_id: str, version: int) -> BotConfig | None:
        return self._configs.get((bot_id, version))

    async def get(self, conn: AsyncConnection, bot_id: str, version: int) -> BotConfig:
        config = self._configs.get((bot_id, version))
        if config is None:
            config = await get_version(conn, bot_id, version)
            self._configs[(bot_id, version)] = config
        return config
