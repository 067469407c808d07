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
import re
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
from chinwag.engine.once import OncePerKey
from chinwag.norwegian import with_glosses
from chinwag.providers.protocols import Embedder

log = logging.getLogger(__name__)
NGRAM_WEIGHT = 1.0
REGULARISATION = 10.0
# Requests that are tasks for a general assistant, whatever their topic: a message matching one
# is out of scope with at least this probability, unless the bot's own examples match it too
# (a bot that translates keeps its translations).
TASK_PROBABILITY = 0.9
TASKS = {
    "writing": r"\b(?:write|compose|make up|create)\b(?:\s+\w+){0,2}?\s+(?:a|an|my|me|some)\s+"
    r"(?:\w+\s+)?(?:poem|story|song|rap|haiku|limerick|essay|speech|cv|cover letter|email|letter|"
    r"lyrics|joke|booking system|app|program|script|function|formula|code)s?\b",
    "writing_nb": r"\b(?:skriv|lag|dikt)\b(?:\s+\w+){0,2}?\s+(?:et|en|ei|meg)?\s*"
    r"(?:dikt|sang|historie|novelle|stil|søknad|e-post|brev|vits|kode|app)\b",
    "instructions": r"\b(?:ignore|forget|disregard)\b.{0,30}\b(?:instructions|rules|prompt|told)\b|"
    r"\bfrom now on\b|\byou are now\b|\bDAN\b|\b(?:admin|developer) (?:mode|override)\b|"
    r"\b(?:system|hidden) prompt\b|\bpretend (?:to be|you are)\b|\bact as\b|"
    r"\bglem (?:alt|alle)\b|\bfra nå av\b|\bdu er nå\b",
    "homework": r"\bhomework\b|\b(?:maths?|physics|chemistry) (?:test|exam|assignment)\b|"
    r"\bfor (?:my|school) (?:essay|exam|assignment|test)\b|\blekse|\bmatte",
    "code": r"\b(?:javascript|python|typescript|java|sql|html|css|regex|excel formula|c\+\+)\b|"
    r"\b(?:my|min|the) (?:code|koden)\b|\bnullpointer|\bundefined\b",
    "chores": r"\b(?:translate|summari[sz]e|oversett|oppsummer)\w*\b|"
    r"\b(?:packing|shopping) list\b|\bpakkeliste\b|\bplan (?:a|an|my|our)\b|\bplanlegg",
}
_TASKS = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in TASKS.items()}
# A message this close (cosine) to one the owner marked in scope is in scope: at most this.
CORRECTED_SIMILARITY = 0.9
CORRECTED_PROBABILITY = 0.1


@dataclass(frozen=True, slots=True)
class ScopeExamples:
    in_scope: tuple[str, ...]
    out_of_scope: tuple[str, ...]
    # How many of in_scope are the flows' own examples and descriptions (first), then how many
    # the owner's corrections (`policy.in_scope`, next).
    own: int = 0
    corrected: int = 0


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
        own=len(own),
        corrected=len(policy.in_scope),
    )


@dataclass(frozen=True, slots=True)
class ScopeClassifier:
    """P(out of scope) for a message, from its embedding and character n-grams, the task
    patterns none of the flows' examples match, and the owner's corrections."""

    weights: NDArray[np.float64]
    intercept: float
    ngrams: NgramTfidf
    tasks: tuple[re.Pattern[str], ...] = ()
    corrections: NDArray[np.float32] | None = None  # vectors of `policy.in_scope`

    def out_of_scope(self, text: str, vector: NDArray[np.float32]) -> float:
        learnt = self.learnt(text, vector)
        if self.corrected(vector):
            return min(learnt, CORRECTED_PROBABILITY)
        if any(task.search(text) for task in self.tasks):
            return max(learnt, TASK_PROBABILITY)
        return learnt

    def corrected(self, vector: NDArray[np.float32]) -> bool:
        """The message is one the owner marked in scope, or very near one."""
        found = self.corrections
        return (
            found is not None
            and len(found) > 0
            and float((found @ vector).max()) >= (CORRECTED_SIMILARITY)
        )

    def learnt(self, text: str, vector: NDArray[np.float32]) -> float:
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
    own = examples.in_scope[: examples.own]
    tasks = tuple(p for p in _TASKS.values() if not any(p.search(text) for text in own))
    corrections = vectors[examples.own : examples.own + examples.corrected]
    return ScopeClassifier(weights, intercept, ngrams, tasks, corrections)


@dataclass(slots=True)
class Scope:
    """Scores messages against each bot version's scope; learns a version once per process."""

    embedder_for: Callable[[BotConfig], Embedder]
    _learnt: OncePerKey[tuple[str, int], ScopeClassifier] = field(default_factory=OncePerKey)
    # The built-in examples' vectors, per embedder: every bot version shares them.
    _shipped: OncePerKey[int, NDArray[np.float32]] = field(default_factory=OncePerKey)

    async def out_of_scope(self, bot: BotConfig, version: int, message: str) -> float:
        """The probability (0-1) that the message is outside the bot's scope."""
        classifier = await self.classifier(bot, version)
        vector = (await self.embedder_for(bot).embed([with_glosses(message)]))[0]
        return classifier.out_of_scope(message, vector)

    async def classifier(self, bot: BotConfig, version: int) -> ScopeClassifier:
        return await self._learnt.get((bot.id, version), lambda: self._learn(bot))

    async def _learn(self, bot: BotConfig) -> ScopeClassifier:
        started = time.perf_counter()
        examples = scope_examples(bot)
        embedder = self.embedder_for(bot)
        split = len(shipped_examples().out_of_scope)
        own_in = examples.in_scope[: examples.own + examples.corrected]
        own_out = examples.out_of_scope[split:]
        own = await embedder.embed([with_glosses(t) for t in (*own_in, *own_out)])
        common = await self._shipped.get(id(embedder), lambda: shipped_vectors(embedder))
        vectors = np.vstack(
            [own[: len(own_in)], common[split:], common[:split], own[len(own_in) :]]
        )
        classifier = await asyncio.to_thread(train_scope, examples, vectors)
        log.info(
            "scope: learnt %d examples of bot %s in %.0f ms",
            len(examples.in_scope) + len(examples.out_of_scope),
            bot.id,
            (time.perf_counter() - started) * 1000,
        )
        return classifier


async def shipped_vectors(embedder: Embedder) -> NDArray[np.float32]:
    """The built-in out-of-scope examples' vectors, then the in-scope ones'."""
    shipped = shipped_examples()
    return await embedder.embed(
        [with_glosses(t) for t in (*shipped.out_of_scope, *shipped.in_scope)]
    )
