"""Routing on labelled messages (at least 60 per bot), with the accuracy printed.

A message counts as routed right when the chosen optional flows equal its label exactly.
The floors sit under the measured figures (bench/README.md) to catch regressions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.typing import NDArray

from chinwag.bots.activation import check_file
from chinwag.bots.config import BotConfig
from chinwag.engine.router import Router
from chinwag.providers.embeddings.local import LocalEmbedder

ROOT = Path(__file__).resolve().parents[2]
BOTS = {
    "vinhuset": ROOT / "src/chinwag/bots/demo/vinhuset.yaml",
    "bokhylla": ROOT / "examples/bokhylla.yaml",
    "sykkelverksted": ROOT / "examples/sykkelverksted.yaml",
}
FLOORS = {"vinhuset": 0.65, "bokhylla": 0.4, "sykkelverksted": 0.5}


@pytest.fixture(scope="module")
def embedder() -> Iterator[LocalEmbedder]:
    yield LocalEmbedder()


def labelled(bot: str) -> list[dict[str, object]]:
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
    assert len(labelled(bot_id)) >= 60
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


async def test_examples_are_embedded_once_per_bot_version(embedder: LocalEmbedder) -> None:
    report = check_file(BOTS["vinhuset"], check_env=False)
    assert report.config is not None
    bot = report.config
    counting = CountingEmbedder(embedder)
    router = Router(embedder_for=lambda _: counting, model_for=lambda _: pytest.fail("no llm"))
    examples = sum(len(f.examples) for f in bot.flows.values())
    for _ in range(3):
        await router.route(bot, 1, "What does the Barolo cost?")
    assert counting.texts == examples + 3
    await router.route(bot, 2, "What does the Barolo cost?")  # a new version: embedded again
    assert counting.texts == 2 * examples + 4
