"""Flow determination: which optional flows a message needs. `main` always runs.

Strategies: `semantic` (a classifier learnt from the flows' examples once per bot version:
flow_classifier.py), `keywords` (whole-word matches), `llm` (one classification call answering
JSON) and `all`. A router that fails selects nothing and says why; it never guesses.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel, ValidationError

from chinwag.config.bot import BotConfig
from chinwag.config.llm import LLMConfig, effective_llm
from chinwag.engine.flow_classifier import (
    FlowClassifier,
    clause_spans,
    clauses,
    routing_texts,
    train_classifier,
)
from chinwag.engine.once import OncePerKey
from chinwag.engine.person_requests import (
    BUILT_IN_COUNTER_EXAMPLES,
    HANDOFF_FLOW,
    handoff_examples,
    learns_handoff,
)
from chinwag.errors import ChinwagError, RouterFailed, RouterInvalidOutput
from chinwag.providers.protocols import (
    ChatMessage,
    ChatModel,
    Embedder,
    GenerationOptions,
    PartsEmbedder,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    strategy: str
    flows: list[str]  # selected optional flows, in the bot's order
    scores: dict[str, float]  # every optional flow's score
    ms: float = 0.0
    error: ChinwagError | None = None
    # `router.uncertain: llm` and the semantic scores were near a threshold: "llm" when the llm
    # router decided, else the code of its failure (the semantic decision stood).
    uncertain: str | None = None
    # The learnt `handoff` flow was chosen (`handoff.examples`): the message asks for a person.
    asks_person: bool = False


@dataclass(frozen=True, slots=True)
class _Examples:
    """One bot version's routable flows, their thresholds and the classifier learnt for them."""

    flows: list[str]
    thresholds: NDArray[np.float32]
    classifier: FlowClassifier | None


@dataclass(slots=True)
class Router:
    """Routes messages; keeps each bot version's trained classifier for the process's life."""

    embedder_for: Callable[[BotConfig], Embedder]
    model_for: Callable[[LLMConfig | None], ChatModel]
    _examples: OncePerKey[tuple[str, int], _Examples] = field(default_factory=OncePerKey)

    async def route(
        self,
        bot: BotConfig,
        version: int,
        message: str,
    ) -> RouteDecision:
        """Choose the optional flows."""
        started = time.perf_counter()
        strategy = bot.router.strategy
        try:
            if strategy == "semantic":
                decision = await self._semantic(bot, version, message)
                if bot.router.uncertain == "llm" and self.uncertain(bot, decision):
                    decision = await self._second_opinion(bot, message, decision)
            elif strategy == "keywords":
                decision = keywords_route(bot, message)
            elif strategy == "llm":
                decision = await self._llm(bot, message)
            else:
                names = list(bot.optional_flows)
                decision = RouteDecision("all", names, dict.fromkeys(names, 1.0))
        except ChinwagError as exc:
            decision = RouteDecision(strategy, [], {}, error=exc)
        ms = round((time.perf_counter() - started) * 1000, 3)
        return replace(decision, ms=ms)

    @staticmethod
    def uncertain(bot: BotConfig, decision: RouteDecision) -> bool:
        """Some flow's semantic score lies within `router.uncertain_margin` of its threshold."""
        margin = bot.router.uncertain_margin
        return any(
            abs(score - threshold_of(bot, name)) < margin for name, score in decision.scores.items()
        )

    async def _second_opinion(
        self, bot: BotConfig, message: str, semantic: RouteDecision
    ) -> RouteDecision:
        """The llm router's decision for an uncertain message; the semantic one if it fails."""
        try:
            asked = await self._llm(bot, message)
        except ChinwagError as exc:
            log.warning("bot %s: uncertain route kept: %s (%s)", bot.id, exc.message, exc.code)
            return replace(semantic, uncertain=exc.code)
        return replace(semantic, flows=asked.flows, strategy="semantic+llm", uncertain="llm")

    async def prepare(self, bot: BotConfig, version: int) -> None:
        """Learn a bot version's examples now (at activation) rather than on its first message."""
        if bot.router.strategy == "semantic":
            await self._examples_of(bot, version)
            await self.embedder_for(bot).embed(["warm up", "the model. Twice."])

    async def _semantic(self, bot: BotConfig, version: int, message: str) -> RouteDecision:
        examples = await self._examples_of(bot, version)
        texts = clauses(message)
        embedder = self.embedder_for(bot)
        if len(texts) > 1 and isinstance(embedder, PartsEmbedder):
            # the clauses pooled from the message's own pass: same accuracy, ~1/3 less CPU
            vectors = await embedder.embed_parts(texts[0], clause_spans(message))
        else:
            vectors = await embedder.embed(texts)
        if examples.classifier is None:
            return RouteDecision("semantic", [], {})
        # numpy work on matrices of the vocabulary's width: beside the event loop
        found = await asyncio.to_thread(examples.classifier.probabilities, texts, vectors)
        best = found.max(axis=0)
        chosen = [n for i, n in enumerate(examples.flows) if best[i] >= examples.thresholds[i]]
        scores = {n: round(float(best[i]), 4) for i, n in enumerate(examples.flows)}
        if HANDOFF_FLOW in chosen:  # not a flow that runs: the message asks for a person
            chosen.remove(HANDOFF_FLOW)
            return RouteDecision("semantic", chosen, scores, asks_person=True)
        return RouteDecision("semantic", chosen, scores)

    async def _examples_of(self, bot: BotConfig, version: int) -> _Examples:
        return await self._examples.get((bot.id, version), lambda: self._learn_examples(bot))

    async def _learn_examples(self, bot: BotConfig) -> _Examples:
        """Embed every optional flow's examples, then `main`'s, and train the classifier."""
        flows, texts, owners, thresholds = routable_examples(bot)
        if not flows:
            return _Examples(flows, np.zeros(0, dtype=np.float32), None)
        vectors = await self.embedder_for(bot).embed(routing_texts(texts))
        classifier = await asyncio.to_thread(train_classifier, flows, texts, owners, vectors)
        log.info(
            "router: learnt %d examples of bot %s in %.0f ms (training)",
            len(texts),
            bot.id,
            classifier.train_ms,
        )
        return _Examples(flows, np.asarray(thresholds, dtype=np.float32), classifier)

    async def _llm(self, bot: BotConfig, message: str) -> RouteDecision:
        settings = effective_llm(bot.router.llm, bot.llm)
        flows = bot.optional_flows
        if not flows:
            return RouteDecision("llm", [], {})
        model = self.model_for(settings)
        prompt = [
            ChatMessage("system", classifier_prompt(bot)),
            ChatMessage("user", message),
        ]
        parts: list[str] = []
        try:
            async with asyncio.timeout(bot.router.timeout_seconds):
                async for item in model.stream(prompt, classifier_options(list(flows))):
                    if isinstance(item, str):
                        parts.append(item)
        except TimeoutError as exc:
            raise RouterFailed(
                f"the llm router did not answer within {bot.router.timeout_seconds} s "
                "(router.timeout_seconds)"
            ) from exc
        chosen = parse_classification("".join(parts), set(flows))
        ordered = [name for name in flows if name in chosen]
        return RouteDecision("llm", ordered, {n: 1.0 if n in chosen else 0.0 for n in flows})


def routable_examples(bot: BotConfig) -> tuple[list[str], list[str], list[int], list[float]]:
    """The optional flows that have examples (and the learnt `handoff` flow, when the bot has
    one), every example (theirs, then `main`'s), each example's owner (index into the flows;
    len(flows) is `main`) and each flow's threshold."""
    flows = [name for name, flow in bot.optional_flows.items() if flow.examples]
    examples = {name: bot.flows[name].examples for name in [*flows, "main"]}
    if learns_handoff(bot):
        flows.append(HANDOFF_FLOW)
        examples[HANDOFF_FLOW] = handoff_examples(bot)
        examples["main"] = [*examples["main"], *BUILT_IN_COUNTER_EXAMPLES]
    texts: list[str] = []
    owners: list[int] = []
    for i, name in enumerate([*flows, "main"]):
        texts += examples[name]
        owners += [i] * len(examples[name])
    return flows, texts, owners, [threshold_of(bot, n) for n in flows]


def threshold_of(bot: BotConfig, flow: str) -> float:
    """A flow's least semantic score to be chosen: its own threshold, else the router's."""
    if flow == HANDOFF_FLOW:
        return bot.handoff.threshold
    own = bot.flows[flow].threshold
    return own if own is not None else bot.router.threshold


def classifier_prompt(bot: BotConfig) -> str:
    lines = [
        "You decide which helper flows a customer's message needs. The flows:",
        *(
            f"- {name}: {flow.description or name.replace('_', ' ')}"
            for name, flow in bot.optional_flows.items()
        ),
        'Answer with JSON only, like {"flows": ["name"]}, listing every flow that applies, '
        'or {"flows": []} when none does.',
    ]
    return "\n".join(lines)


def classifier_options(flows: list[str]) -> GenerationOptions:
    """Greedy, short, and a JSON object whose `flows` may only name the bot's flows."""
    schema = {
        "type": "object",
        "properties": {
            "flows": {
                "type": "array",
                "items": {"type": "string", "enum": flows},
                "maxItems": len(flows),  # small models repeat a name until max_tokens
                "uniqueItems": True,
            }
        },
        "required": ["flows"],
    }
    return GenerationOptions(temperature=0.0, max_tokens=60, json_schema=schema)


class _Classification(BaseModel):
    flows: list[str]


def parse_classification(text: str, known: set[str]) -> set[str]:
    """The flows named by a classifier's JSON answer; RouterInvalidOutput for anything else."""
    shown = text.strip()[:200]
    try:
        found = json_object(text)
        if found is None:
            raise RouterInvalidOutput(f"the llm router answered without JSON: {shown!r}")
        answer = _Classification.model_validate(found)
    except (ValueError, ValidationError) as exc:
        raise RouterInvalidOutput(f"the llm router's JSON is not valid: {shown!r}") from exc
    unknown = set(answer.flows) - known
    if unknown:
        raise RouterInvalidOutput(
            f"the llm router named flows that do not exist: {', '.join(sorted(unknown))}"
        )
    return set(answer.flows)


def json_object(text: str) -> Any:
    """The JSON a model's answer holds from its first `{` to its last `}` (None: no braces);
    ValueError when that does not parse."""
    start, end = text.find("{"), text.rfind("}")
    return orjson.loads(text[start : end + 1]) if 0 <= start < end else None


def keywords_route(bot: BotConfig, message: str) -> RouteDecision:
    """Score = how many of a flow's keywords occur in the message as whole words."""
    scores: dict[str, float] = {}
    for name, flow in bot.optional_flows.items():
        if flow.keywords:
            found = _keyword_pattern(tuple(flow.keywords)).findall(message)
            scores[name] = float(len({" ".join(f.lower().split()) for f in found}))
    return RouteDecision("keywords", [n for n, s in scores.items() if s > 0], scores)


@lru_cache(maxsize=1024)
def _keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    words = sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True)
    alternatives = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)
