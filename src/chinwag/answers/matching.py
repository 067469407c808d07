"""Matching messages to a bot's curated questions by embedding, cached per (bot, data version)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from chinwag.answers.models import CuratedAnswer
from chinwag.answers.service import DataVersion, data_version
from chinwag.config.bot import BotConfig, EmbeddingConfig
from chinwag.db.uow import Database
from chinwag.engine.curated import CuratedMatch
from chinwag.providers.protocols import Embedder
from chinwag.words import has_all_words


@dataclass(frozen=True, slots=True)
class _Questions:
    """One bot's enabled curated answers and their questions' embeddings (rows in order)."""

    version: DataVersion
    answers: list[CuratedMatch]  # score 0: filled in per match
    matrix: NDArray[np.float32]


RECHECK_SECONDS = 2.0


class CuratedMatcher:
    """Finds the enabled curated answer whose question is closest to a message.

    A message costs one embedding; the bot's data version (one small query) is read again at
    most every RECHECK_SECONDS, and the questions are embedded again only when it changed. A
    change made through this server is seen at once (`forget`), one made through another
    server or the CLI within RECHECK_SECONDS.
    """

    def __init__(self, db: Database, embedder_for: Callable[[BotConfig], Embedder]) -> None:
        self._db = db
        self._embedder_for = embedder_for
        self._cache: dict[tuple[str, EmbeddingConfig], _Questions] = {}
        self._locks: dict[tuple[str, EmbeddingConfig], asyncio.Lock] = {}
        self._checked: dict[tuple[str, EmbeddingConfig], float] = {}

    def forget(self, bot_id: str) -> None:
        """The bot's curated answers changed here: read them again for the next message."""
        for key in [k for k in self._checked if k[0] == bot_id]:
            del self._checked[key]

    async def __call__(self, bot: BotConfig, text: str) -> CuratedMatch | None:
        questions = await self._questions(bot)
        if not questions.answers:
            return None
        settings = bot.curated_answers
        vector = await self._embedder_for(bot).embed([text])
        scores = questions.matrix @ vector[0]
        for best in np.argsort(-scores):
            score = round(float(scores[best]), 4)
            if score < settings.threshold:
                return None
            found = questions.answers[int(best)]
            if not settings.all_words or has_all_words(text, found.question):
                return CuratedMatch(found.id, found.question, found.answer, score, found.sources)
        return None

    async def _questions(self, bot: BotConfig) -> _Questions:
        key = (bot.id, bot.embedding)
        cached = self._cache.get(key)
        checked = self._checked.get(key, -RECHECK_SECONDS)
        if cached is not None and time.monotonic() - checked < RECHECK_SECONDS:
            return cached
        self._checked[key] = time.monotonic()
        async with self._db.read() as conn:
            version = await data_version(conn, bot.id)
        if cached is not None and cached.version == version:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if cached is None or cached.version != version:
                cached = await self._load(bot, version)
                self._cache[key] = cached
        return cached

    async def _load(self, bot: BotConfig, version: DataVersion) -> _Questions:
        if version.count == 0:
            return _Questions(version, [], np.zeros((0, 0), dtype=np.float32))
        async with self._db.read() as conn:
            rows = (
                await conn.execute(
                    select(
                        CuratedAnswer.id,
                        CuratedAnswer.question,
                        CuratedAnswer.answer,
                        CuratedAnswer.sources,
                    )
                    .where(CuratedAnswer.bot_id == bot.id, CuratedAnswer.enabled.is_(True))
                    .order_by(CuratedAnswer.created_at, CuratedAnswer.id)
                )
            ).all()
        answers = [CuratedMatch(r.id, r.question, r.answer, 0.0, list(r.sources)) for r in rows]
        if not answers:
            return _Questions(version, [], np.zeros((0, 0), dtype=np.float32))
        matrix = await self._embedder_for(bot).embed([a.question for a in answers])
        return _Questions(version, answers, matrix)
