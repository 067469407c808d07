"""Bot storage. Functions take a connection and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.config import BotConfig
from chinwag.bots.models import Bot
from chinwag.db.base import utcnow
from chinwag.errors import BotNotFound


@dataclass(frozen=True, slots=True)
class BotVersion:
    id: str
    version: int
    config: BotConfig


async def get_bot_version(conn: AsyncConnection, bot_id: str) -> int:
    """The bot's current version, or BotNotFound."""
    version = (await conn.execute(select(Bot.version).where(Bot.id == bot_id))).scalar()
    if version is None:
        raise BotNotFound(f"bot '{bot_id}' does not exist")
    return version


async def get_bot(conn: AsyncConnection, bot_id: str) -> BotVersion:
    row = (await conn.execute(select(Bot.version, Bot.config).where(Bot.id == bot_id))).first()
    if row is None:
        raise BotNotFound(f"bot '{bot_id}' does not exist")
    return BotVersion(bot_id, row.version, BotConfig.model_validate(row.config))


async def put_bot(conn: AsyncConnection, config: BotConfig) -> BotVersion:
    """Create the bot, or store a new version when its configuration changed."""
    data = config.model_dump(mode="json", exclude_none=True)
    row = (await conn.execute(select(Bot.version, Bot.config).where(Bot.id == config.id))).first()
    if row is None:
        now = utcnow()
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
        return BotVersion(config.id, 1, config)
    if row.config == data:
        return BotVersion(config.id, row.version, config)
    version = row.version + 1
    await conn.execute(
        update(Bot)
        .where(Bot.id == config.id)
        .values(name=config.name, config=data, version=version, updated_at=utcnow())
    )
    return BotVersion(config.id, version, config)


class BotCache:
    """Parsed configurations by (bot, version): a message reads one small row, not the config."""

    def __init__(self) -> None:
        self._configs: dict[tuple[str, int], BotConfig] = {}

    def cached(self, bot_id: str, version: int) -> BotConfig | None:
        return self._configs.get((bot_id, version))

    async def get(self, conn: AsyncConnection, bot_id: str, version: int) -> BotConfig:
        config = self._configs.get((bot_id, version))
        if config is None:
            bot = await get_bot(conn, bot_id)
            config = bot.config
            self._configs[(bot_id, bot.version)] = config
        return config
