"""Routing on labelled messages (at least 60 per bot), with the accuracy printed.

A message counts as routed right when the chosen optional flows equal its label exactly.
The three newer sets (JSONL, written apart from their bots' examples) are split dev/test: the
router was tuned on dev only, and these tests measure test. The floors sit under the measured
figures (bench/README.md) to catch regressions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.typing import NDArray

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.flow_classifier import GENERAL_QUESTIONS
from chinwag.engine.router import Router
from chinwag.providers.embeddings.local import LocalEmbedder

ROOT = Path(__file__).resolve().parents[2]
BOTS = {
    "vinhuset": ROOT / "src/chinwag/bots/demo/vinhuset.yaml",
    "bokhylla": ROOT / "examples/bokhylla.yaml",
    "sykkelverksted": ROOT / "examples/sykkelverksted.yaml",
    "tannklinikk": ROOT / "examples/tannklinikk.yaml",
    "fjordferja": ROOT / "examples/fjordferja.yaml",
    "hyttegrenda": ROOT / "examples/hyttegrenda.yaml",
}
# accuracy floors of each bot's own strategy (all semantic)
FLOORS = {
    "vinhuset": 0.85,
    "bokhylla": 0.7,
    "sykkelverksted": 0.75,
    "tannklinikk": 0.7,
    "fjordferja": 0.7,
    "hyttegrenda": 0.65,
}


@pytest.fixture(scope="module")
def embedder() -> Iterator[LocalEmbedder]:
    yield LocalEmbedder()


def labelled(bot: str) -> list[dict[str, object]]:
    """The bot's labelled messages as {text, flows}: the test split of a JSONL set."""
    split = ROOT / f"tests/data/routing/{bot}.jsonl"
    if split.exists():
        lines = [json.loads(line) for line in split.read_text().splitlines() if line.strip()]
        return [{"text": m["message"], "flows": m["flows"]} for m in lines if m["split"] == "test"]
    messages: list[dict[str, object]] = yaml.safe_load(
        (ROOT / f"tests/data/routing/{bot}.yaml").read_text()
    )["messages"]
    return messages


async def accuracy(router: Router, bot: BotConfig, strategy: str, version: int) -> float:
    config = bot.model_copy(update={"router": bot.router.model_copy(update={"strategy": strategy})})
    messages = labelled(bot.id)
    right = 0
    for m in messages:
        decision = await router.route(config, version, str(m["text"]))
        assert decision.error is None
        right += set(decision.flows) == set(m["flows"])  # type: ignore[call-overload]
    return right / len(messages)


@pytest.mark.parametrize("bot_id", list(BOTS))
async def test_routing_accuracy_on_the_labelled_set(bot_id: str, embedder: LocalEmbedder) -> None:
    report = check_file(BOTS[bot_id], check_env=False)
    assert report.config is not None
    bot = report.config
    assert len(labelled(bot_id)) >= 50
    router = Router(embedder_for=lambda _: embedder, model_for=lambda _: pytest.fail("no llm"))
    results = {s: await accuracy(router, bot, s, i) for i, s in enumerate(("semantic", "keywords"))}
    print(f"\n{bot_id}: " + ", ".join(f"{s} {a:.1%}" for s, a in results.items()))
    assert results[bot.router.strategy] >= FLOORS[bot_id]


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: LocalEmbedder) -> None:
        self.inner, self.name, self.texts = inner, inner.name, 0

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.texts += len(texts)
        return await self.inner.embed(texts)

    async def dimension(self) -> int:
        return await self.inner.dimension()

    async def aclose(self) -> None:
        return None


async def test_examples_are_learnt_once_per_bot_version(embedder: LocalEmbedder) -> None:
    report = check_file(BOTS["vinhuset"], check_env=False)
    assert report.config is not None
    bot = report.config
    counting = CountingEmbedder(embedder)
    router = Router(embedder_for=lambda _: counting, model_for=lambda _: pytest.fail("no llm"))
    learnt = sum(len(f.examples) for f in bot.flows.values()) + len(GENERAL_QUESTIONS)
    for _ in range(3):
        decision = await router.route(bot, 1, "What does the Barolo cost?")
        assert decision.flows == ["statistics"]
    assert counting.texts == learnt + 3
    await router.route(bot, 2, "What does the Barolo cost?")  # a new version: learnt again
    assert counting.texts == 2 * learnt + 4


async def test_scores_are_probabilities_that_compare_across_flows(embedder: LocalEmbedder) -> None:
    report = check_file(BOTS["fjordferja"], check_env=False)
    assert report.config is not None
    router = Router(embedder_for=lambda _: embedder, model_for=lambda _: pytest.fail("no llm"))
    decision = await router.route(report.config, 1, "Hi! When does the last ferry leave tonight?")
    assert set(decision.scores) == set(report.config.optional_flows)
    assert all(0.0 <= s <= 1.0 for s in decision.scores.values())
    assert decision.flows == ["timetable", "greetings"]  # one clause each, in the bot's order
    assert min(decision.scores[f] for f in decision.flows) > max(
        s for f, s in decision.scores.items() if f not in decision.flows
    )
