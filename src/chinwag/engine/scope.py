"""Whether a message is the bot's business at all: one classifier per bot version, no LLM call.

It learns the bot's own scope (every flow's examples and description, the policy's `in_scope`,
and what visitors ask any business) against what no business's assistant should do (the shipped
examples in scope_examples.yaml and the policy's `out_of_scope`). Features are the message's
embedding (Norwegian glossed, as the router embeds it: the embedder computes it once for both)
and its character n-grams. The score is the probability that the message is out of scope.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

import numpy as np
import yaml
from numpy.typing import NDArray

from chinwag.config.bot import BotConfig
from chinwag.engine.linear import NgramTfidf, fit_logistic, sigmoid
from chinwag.norwegian import with_glosses
from chinwag.providers.protocols import Embedder

log = logging.getLogger(__name__)
NGRAM_WEIGHT = 1.0
REGULARISATION = 10.0


@dataclass(frozen=True, slots=True)
class ScopeExamples:
    in_scope: tuple[str, ...]
    out_of_scope: tuple[str, ...]


@cache
def shipped_examples() -> ScopeExamples:
    """The built-in examples every bot's scope learns from."""
    text = files("chinwag.engine").joinpath("scope_examples.yaml").read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    return ScopeExamples(tuple(loaded["in_scope"]), tuple(loaded["out_of_scope"]))


def scope_examples(bot: BotConfig) -> ScopeExamples:
    """What one bot's classifier learns: its own scope and the out-of-scope examples."""
    shipped = shipped_examples()
    own: list[str] = []
    for flow in bot.flows.values():
        own += flow.examples
        if flow.description:
            own.append(flow.description)
    policy = bot.answer_policy
    return ScopeExamples(
        (*own, *policy.in_scope, *shipped.in_scope),
        (*shipped.out_of_scope, *policy.out_of_scope),
    )


@dataclass(frozen=True, slots=True)
class ScopeClassifier:
    """P(out of scope) for a message, from its embedding and character n-grams."""

    weights: NDArray[np.float64]
    intercept: float
    ngrams: NgramTfidf

    def out_of_scope(self, text: str, vector: NDArray[np.float32]) -> float:
        features = np.hstack(
            [vector, NGRAM_WEIGHT * self.ngrams.transform([with_glosses(text)])[0]]
        )
        return float(sigmoid(np.asarray(features @ self.weights + self.intercept)))


def train_scope(examples: ScopeExamples, vectors: NDArray[np.float32]) -> ScopeClassifier:
    """Fit on the examples (in scope first) and their embeddings. Blocking: run in a thread."""
    texts = [with_glosses(t) for t in (*examples.in_scope, *examples.out_of_scope)]
    positive = np.asarray([False] * len(examples.in_scope) + [True] * len(examples.out_of_scope))
    ngrams = NgramTfidf.fit(texts, (2, 4))
    features = np.hstack([vectors, NGRAM_WEIGHT * ngrams.transform(texts)])
    weights, intercept = fit_logistic(features, positive, c=REGULARISATION)
    return ScopeClassifier(weights, intercept, ngrams)


@dataclass(slots=True)
class Scope:
    """Scores messages against each bot version's scope; learns a version once per process."""

    embedder_for: Callable[[BotConfig], Embedder]
    _learnt: dict[tuple[str, int], ScopeClassifier] = field(default_factory=dict)
    _locks: dict[tuple[str, int], asyncio.Lock] = field(default_factory=dict)

    async def out_of_scope(self, bot: BotConfig, version: int, message: str) -> float:
        """The probability (0-1) that the message is outside the bot's scope."""
        classifier = await self.classifier(bot, version)
        vector = (await self.embedder_for(bot).embed([with_glosses(message)]))[0]
        return classifier.out_of_scope(message, vector)

    async def classifier(self, bot: BotConfig, version: int) -> ScopeClassifier:
        key = (bot.id, version)
        found = self._learnt.get(key)
        if found is not None:
            return found
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._learnt:
                self._learnt[key] = await self._learn(bot)
            self._locks.pop(key, None)
        return self._learnt[key]

    async def _learn(self, bot: BotConfig) -> ScopeClassifier:
        started = time.perf_counter()
        examples = scope_examples(bot)
        texts = [with_glosses(t) for t in (*examples.in_scope, *examples.out_of_scope)]
        vectors = await self.embedder_for(bot).embed(texts)
        classifier = await asyncio.to_thread(train_scope, examples, vectors)
        log.info(
            "scope: learnt %d examples of bot %s in %.0f ms",
            len(texts),
            bot.id,
            (time.perf_counter() - started) * 1000,
        )
        return classifier
