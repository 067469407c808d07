"""A server's knowledge: each configured store opened once, a bot's search service, its checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from chinwag.config.bot import BotConfig, EmbeddingConfig, KnowledgeConfig
from chinwag.knowledge.checks import check_index
from chinwag.knowledge.search import KnowledgeService
from chinwag.knowledge.stores import open_store
from chinwag.providers.registry import ModelRegistry
from chinwag.providers.vectorstores.base import IndexInfo, VectorStore
from chinwag.settings import Settings


class KnowledgeStores:
    """Stores by (store, url, key variable), shared by every bot that names the same one."""

    def __init__(self, settings: Settings, models: ModelRegistry) -> None:
        self._settings = settings
        self._models = models
        self._stores: dict[tuple[str, str | None, str | None], VectorStore] = {}

    @property
    def models(self) -> ModelRegistry:
        """The models the stores' search services embed with (shared with other steps)."""
        return self._models

    def for_bot(self, bot: BotConfig) -> KnowledgeService | None:
        """The bot's search service; None when the bot has no knowledge section."""
        if bot.knowledge is None:
            return None
        return self.service(bot.knowledge, bot.embedding)

    def service(self, config: KnowledgeConfig, embedding: EmbeddingConfig) -> KnowledgeService:
        """Search one index with one embedding model (a bot's, or one about to be created)."""
        key = (config.store, config.url, config.api_key_env)
        if key not in self._stores:
            self._stores[key] = open_store(config, self._settings)
        return KnowledgeService(self._stores[key], self._models.embedder(embedding), config)

    async def check(self, bot: BotConfig, *, named: str | None = None) -> IndexInfo | None:
        """The bot's index info, or the error that says what is wrong with it and the fix
        (naming the bot as `named`, e.g. its YAML file, in the commands it suggests)."""
        service = self.for_bot(bot)
        if service is None or bot.knowledge is None:
            return None
        return await check_index(
            service.store,
            bot.knowledge.index,
            service.embedder,
            bot=named or bot.id,
            mode=bot.knowledge.mode,
        )

    async def aclose(self) -> None:
        for store in self._stores.values():
            await store.aclose()
        self._stores.clear()


@asynccontextmanager
async def standalone_knowledge(settings: Settings) -> AsyncIterator[KnowledgeStores]:
    """Stores and models for one command outside a server, closed at the end."""
    models = ModelRegistry(settings)
    knowledge = KnowledgeStores(settings, models)
    try:
        yield knowledge
    finally:
        await knowledge.aclose()
        await models.aclose()
