"""`router.uncertain: llm`: the share of messages a semantic bot would put to the llm router, and
what that costs, on each labelled set's test split.

    .venv/bin/python bench/routing_uncertain.py

The llm router is the fake LLM (chinwag.testing) over real HTTP, answering {"flows": []} 50 ms
after the request: the plumbing and its latency, not a model's routing.
"""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from labelled_bots import BOTS, in_scope
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.router import Router
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM

MARGIN = 0.15


def with_second_opinion(bot: BotConfig, fake: FakeLLM) -> BotConfig:
    llm = {"provider": "openai", "base_url": fake.base_url, "model": "router"}
    router = bot.router.model_copy(
        update={"uncertain": "llm", "uncertain_margin": MARGIN, "llm": llm}
    )
    # The bot's own llm (a key it names) must not leak into the fake's settings.
    return BotConfig.model_validate(
        {**bot.model_dump(), "router": router.model_dump(), "llm": None}
    )


async def measure(router: Router, fake: FakeLLM, bot_id: str, version: int) -> dict[str, Any]:
    bot = check_file(BOTS[bot_id], check_env=False).config
    assert bot is not None
    asking = with_second_opinion(bot, fake)
    messages = [r["message"] for r in in_scope(bot_id) if r["split"] == "test"]
    await router.prepare(bot, version)
    await router.prepare(asking, version)
    plain_ms, asked_ms = [], []
    for text in messages:
        plain = await router.route(bot, version, text)
        asked = await router.route(asking, version, text)
        plain_ms.append(plain.ms)
        if asked.uncertain is not None:
            asked_ms.append(asked.ms)
    return {
        "bot": bot_id,
        "messages": len(messages),
        "uncertain": len(asked_ms),
        "plain_p50": statistics.median(plain_ms),
        "asked_p50": statistics.median(asked_ms) if asked_ms else None,
    }


async def main() -> None:
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    router = Router(embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot)
    with FakeLLM() as fake:
        fake.behaviour.first_token_delay = 0.05
        fake.behaviour.model_replies["router"] = '{"flows": []}'
        semantic = [
            bot_id
            for bot_id, path in BOTS.items()
            if (c := check_file(path, check_env=False).config) and c.router.strategy == "semantic"
        ]
        rows = [await measure(router, fake, bot_id, 10 * i) for i, bot_id in enumerate(semantic)]
    await models.aclose()
    print(f"\n`router.uncertain: llm`, margin {MARGIN}, test split, fake LLM answering in 50 ms\n")
    print(
        "| bot | messages | uncertain (to the llm) | semantic route p50 ms | with the llm p50 ms |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        asked = "—" if r["asked_p50"] is None else f"{r['asked_p50']:.1f}"
        share = r["uncertain"] / r["messages"]
        print(
            f"| {r['bot']} | {r['messages']} | {r['uncertain']} ({share:.0%}) "
            f"| {r['plain_p50']:.1f} | {asked} |"
        )
    total = sum(r["uncertain"] for r in rows) / sum(r["messages"] for r in rows)
    print(f"\nAll semantic bots: {total:.0%} of messages would take the llm router.")


if __name__ == "__main__":
    copy_stdout_to(result_path("routing-uncertain", "md"))
    asyncio.run(main())
