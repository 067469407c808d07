"""Routing: latency p50/p99 and accuracy per strategy on the labelled sets, side by side with the
`llm` strategy run against the embedded local model; and the wall time of parallel flows.

    .venv/bin/python bench/routing_bench.py                 # everything (~5 min on 2 cores)
    .venv/bin/python bench/routing_bench.py --llm-limit 0   # without the llm strategy

Prints markdown tables. Route time is what the router itself reports (RouteDecision.ms): for
`semantic` it includes embedding the message, for `llm` the whole classification call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml
from labelled_bots import BOTS, ROOT
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.context import FlowContext, MessageInput
from chinwag.engine.router import Router
from chinwag.engine.runner import run_message
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.streams.events import FlowStarted, StreamEvent
from chinwag.testing.fake_llm import FakeLLM

BASELINE_MS = 1490.0  # the replaced system's LLM "flow determination"


def labelled(bot_id: str) -> list[dict[str, Any]]:
    """{text, flows} per message: a JSONL set's test split (never used to tune), or a YAML set."""
    split = ROOT / f"tests/data/routing/{bot_id}.jsonl"
    if split.exists():
        rows = [json.loads(line) for line in split.read_text().splitlines() if line.strip()]
        return [{"text": r["message"], "flows": r["flows"]} for r in rows if r["split"] == "test"]
    messages: list[dict[str, Any]] = yaml.safe_load(
        (ROOT / f"tests/data/routing/{bot_id}.yaml").read_text()
    )["messages"]
    return messages


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def with_strategy(bot: BotConfig, strategy: str) -> BotConfig:
    router = bot.router.model_copy(update={"strategy": strategy, "llm": None})
    # The llm strategy classifies with the embedded model, whatever the bot's own llm says.
    return bot.model_copy(update={"router": router, "llm": None})


async def measure(
    router: Router, bot: BotConfig, strategy: str, messages: list[dict[str, Any]], version: int
) -> dict[str, Any]:
    config = with_strategy(bot, strategy)
    started = time.perf_counter()
    await router.prepare(config, version)  # examples learnt: once per bot version
    prepare_ms = (time.perf_counter() - started) * 1000
    times, right, failed = [], 0, 0
    for m in messages:
        decision = await router.route(config, version, m["text"])
        times.append(decision.ms)
        right += set(decision.flows) == set(m["flows"])
        failed += decision.error is not None
    return {
        "n": len(messages),
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "accuracy": right / len(messages),
        "router_errors": failed,
        "prepare_ms": prepare_ms,
    }


async def routing(llm_limit: int) -> None:
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    router = Router(embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot)
    rows = []
    for i, (bot_id, path) in enumerate(BOTS.items()):
        bot = check_file(path, check_env=False).config
        assert bot is not None
        messages = labelled(bot_id)
        for j, strategy in enumerate(("semantic", "keywords", "all", "llm")):
            subset = messages[:llm_limit] if strategy == "llm" else messages
            if not subset:
                continue
            result = await measure(router, bot, strategy, subset, version=i * 10 + j)
            rows.append((bot_id, strategy, result))
            print(f"  {bot_id:15} {strategy:9} {result}", flush=True)
    await models.aclose()
    print(
        "\n| bot | strategy | messages | p50 ms | p99 ms | accuracy | router errors | prepare ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for bot_id, strategy, r in rows:
        print(
            f"| {bot_id} | {strategy} | {r['n']} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['accuracy']:.1%} | {r['router_errors']} | {r['prepare_ms']:.0f} |"
        )
    semantic = [r["p50"] for _, s, r in rows if s == "semantic"]
    print(
        f"\nsemantic p50 (worst bot) {max(semantic):.2f} ms = "
        f"{BASELINE_MS / max(semantic):.0f}x faster than the replaced system's {BASELINE_MS:.0f} ms"
    )


async def parallel_flows(runs: int) -> None:
    """3 optional flows (0.20, 0.30, 0.40 s to answer) through the real client and engine:
    time from the start of the message until `main` starts, against the slowest flow alone."""
    delays = {"a-model": 0.2, "b-model": 0.3, "c-model": 0.4}
    bot = BotConfig.model_validate(
        {
            "id": "bench",
            "name": "Bench",
            "router": {"strategy": "all"},
            "flows": {
                "main": {"template": "{{ message }}"},
                **{
                    n: {"template": "{{ message }}", "llm": {"model": f"{n}-model"}}
                    for n in ("a", "b", "c")
                },
            },
        }
    )
    ratios, walls = [], []
    with FakeLLM() as fake:
        fake.behaviour.model_delays = delays
        fake.behaviour.tokens = 4
        settings = Settings(
            llm_base_url=fake.base_url,
            llm_model="fake-model",
            _env_file=None,  # type: ignore[call-arg]
        )
        models = ModelRegistry(settings)
        router = Router(
            embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot
        )
        message = MessageInput(text="hi", history=[], user_id="u", bot_version=1)
        for _ in range(runs + 1):  # the first warms the connection pool
            main_started: list[float] = []

            def emit(event: StreamEvent, marks: list[float] = main_started) -> None:
                if isinstance(event, FlowStarted) and event.flow == "main":
                    marks.append(time.perf_counter())

            context = FlowContext(bot=bot, message=message, emit=emit, model_for=models.for_bot)
            started = time.perf_counter()
            await run_message(context, router=router)
            wall = (main_started[0] - started) * 1000
            slowest = max(r.ms for r in context.answer.flow_results if r.flow != "main")
            walls.append((wall, slowest))
            ratios.append(wall / slowest)
        await models.aclose()
    ratios, walls = ratios[1:], walls[1:]
    print(
        "\n| flows | runs | parallel phase p50 ms | slowest flow p50 ms | ratio p50 | ratio max |"
    )
    print("|---|---|---|---|---|---|")
    print(
        f"| 3 (0.2/0.3/0.4 s) | {runs} | {statistics.median(w for w, _ in walls):.1f} | "
        f"{statistics.median(s for _, s in walls):.1f} | {statistics.median(ratios):.3f} | "
        f"{max(ratios):.3f} |"
    )
    print(f"(sequential would be {sum(delays.values()) * 1000:.0f} ms)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm-limit", type=int, default=1000, help="messages per bot for llm")
    parser.add_argument("--flow-runs", type=int, default=30)
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("routing", "md"),
        help="also write what is printed here; default bench/results/routing-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    print("## Routing per strategy")
    await routing(args.llm_limit)
    print("\n## Parallel flows")
    await parallel_flows(args.flow_runs)


if __name__ == "__main__":
    asyncio.run(main())
