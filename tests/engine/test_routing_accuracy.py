"""Routing on labelled messages (at least 60 per bot), with the accuracy printed.

A message counts as routed right when the chosen optional flows equal its label exactly.
The floors sit under the measured figures (bench/README.md) to catch regressions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

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
