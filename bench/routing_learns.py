"""Routing that learns from use: exact routing on each labelled set's test split, before and after
adding the dev split's misrouted messages as examples (what an owner does with the examples
`chinwag eval` suggests, or the console's route fix).

    .venv/bin/python bench/routing_learns.py

Sets: tests/data/routing/<bot>.jsonl (their own dev/test split) and the YAML sets (alternate
messages, the first dev, as tests/data/facts/README.md splits them). A `keywords` bot learns
nothing from examples: its row shows it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from labelled_bots import BOTS, in_scope
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.router import Router
from chinwag.evaluation.run import EvalReport, Labelled, evaluate_routing
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings


def split_of(bot_id: str, split: str) -> list[Labelled]:
    rows = [r for r in in_scope(bot_id) if r["split"] == split]
    return [Labelled(r["message"], flows=list(r["flows"])) for r in rows]


def with_examples(bot: BotConfig, suggested: dict[str, list[str]]) -> BotConfig:
    flows = {
        name: flow.model_copy(update={"examples": [*flow.examples, *suggested.get(name, [])]})
        for name, flow in bot.flows.items()
    }
    return bot.model_copy(update={"flows": flows})


async def measure(router: Router, bot_id: str, version: int) -> dict[str, Any]:
    bot = check_file(BOTS[bot_id], check_env=False).config
    assert bot is not None
    dev, test = split_of(bot_id, "dev"), split_of(bot_id, "test")
    before = EvalReport(bot_id, routed=await evaluate_routing(router, bot, version, test))
    on_dev = EvalReport(bot_id, routed=await evaluate_routing(router, bot, version, dev))
    suggested = on_dev.suggested_examples()
    learnt = with_examples(bot, suggested)
    after = EvalReport(bot_id, routed=await evaluate_routing(router, learnt, version + 1, test))
    return {
        "bot": bot_id,
        "strategy": bot.router.strategy,
        "dev": len(dev),
        "test": len(test),
        "added": sum(len(v) for v in suggested.values()),
        "before": before.routing_accuracy,
        "after": after.routing_accuracy,
    }


async def main() -> None:
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    router = Router(embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot)
    rows = [await measure(router, bot_id, 10 * i) for i, bot_id in enumerate(BOTS)]
    await models.aclose()
    print("\nExact routing on the test split, before and after the dev split's misrouted")
    print("messages became examples\n")
    print("| bot | router | dev / test messages | examples added | before | after | change |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        change = (r["after"] - r["before"]) * 100
        print(
            f"| {r['bot']} | {r['strategy']} | {r['dev']} / {r['test']} | {r['added']} "
            f"| {r['before']:.1%} | {r['after']:.1%} | {change:+.1f} pt |"
        )


if __name__ == "__main__":
    copy_stdout_to(result_path("routing-learns", "md"))
    asyncio.run(main())
