"""Asking for a person in the visitor's own words: how many requests the built-in phrases catch
alone, and with the learnt `handoff` flow (`handoff.examples`: docs/handoff.md's example), and
how often either fires on a message that asks for no person.

    .venv/bin/python bench/handoff_asking.py                       # the test split
    .venv/bin/python bench/handoff_asking.py --split dev --thresholds 0.3 0.4 0.5 0.6

The messages are tests/data/handoff/asking.jsonl (requests the built-in phrases miss, and
near misses such as "are you a human?"), split dev/test; thresholds were chosen on dev. False
alarms are also counted on the six bots' routing sets (their test split), each bot given
docs/handoff.md's examples. Prints a markdown table and writes it to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import yaml
from labelled_bots import BOTS, ROOT, in_scope
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.router import Router
from chinwag.handoff.asking import asks_for_person
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings

ASKING = ROOT / "tests/data/handoff/asking.jsonl"
DOCS = ROOT / "docs/handoff.md"


def docs_handoff() -> dict[str, Any]:
    """The `handoff:` section of docs/handoff.md's example with `examples:` (what users copy)."""
    text = DOCS.read_text()
    section = text[text.index("### In your visitors' own words") :]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    handoff: dict[str, Any] = yaml.safe_load(block)["handoff"]
    return handoff


def with_handoff(bot: BotConfig, threshold: float | None) -> BotConfig:
    section = docs_handoff() if threshold is None else {**docs_handoff(), "threshold": threshold}
    handoff = bot.handoff.model_validate({**bot.handoff.model_dump(), **section})
    router = bot.router.model_copy(update={"strategy": "semantic"})
    return bot.model_copy(update={"handoff": handoff, "router": router})


async def asked(router: Router, bot: BotConfig, version: int, text: str) -> tuple[bool, bool]:
    """(the built-in phrases catch it, the phrases or the learnt flow do)."""
    phrases = asks_for_person(text)
    decision = await router.route(bot, version, text)
    return phrases, phrases or decision.asks_person


async def measure(split: str, thresholds: list[float | None], show: bool) -> None:
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    router = Router(embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot)
    rows = [json.loads(line) for line in ASKING.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["split"] == split]
    bots = {name: check_file(path, check_env=False).config for name, path in BOTS.items()}
    version = 1000
    print(
        f"split {split}: {sum(r['asks'] for r in rows)} requests, "
        f"{sum(not r['asks'] for r in rows)} near misses\n"
    )
    print("| threshold | requests caught | near misses fired | routing sets fired |")
    print("|---|---|---|---|")
    phrases_only: tuple[int, int, int] | None = None
    for threshold in thresholds:
        vinhuset = bots["vinhuset"]
        assert vinhuset is not None
        bot = with_handoff(vinhuset, threshold)
        version += 1
        caught = fired = built_in_caught = built_in_fired = 0
        for r in rows:
            by_phrases, by_either = await asked(router, bot, version, r["message"])
            if show and by_either != r["asks"]:
                print(f"  {'missed' if r['asks'] else 'fired'}: {r['message']}")
            if r["asks"]:
                caught += by_either
                built_in_caught += by_phrases
            else:
                fired += by_either
                built_in_fired += by_phrases
        routed = routed_fired = phrase_fired = 0
        for name, config in bots.items():
            assert config is not None
            other = with_handoff(config, threshold)
            version += 1
            for m in in_scope(name):
                if m["split"] != split:
                    continue
                by_phrases, by_either = await asked(router, other, version, m["message"])
                if show and by_either:
                    print(f"  fired ({name}): {m['message']}")
                routed += 1
                routed_fired += by_either
                phrase_fired += by_phrases
        requests = sum(r["asks"] for r in rows)
        misses = len(rows) - requests
        if phrases_only is None:
            phrases_only = (built_in_caught, built_in_fired, phrase_fired)
            print(
                f"| built-in phrases only | {built_in_caught}/{requests} | "
                f"{built_in_fired}/{misses} | {phrase_fired}/{routed} |"
            )
        shown = "the default (0.6)" if threshold is None else f"{threshold:.2f}"
        print(
            f"| {shown} | {caught}/{requests} ({caught / requests:.0%}) | "
            f"{fired}/{misses} ({fired / misses:.0%}) | "
            f"{routed_fired}/{routed} ({routed_fired / routed:.1%}) |",
            flush=True,
        )
    await models.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="test")
    parser.add_argument(
        "--thresholds", type=float, nargs="*", default=None, help="unset: the default"
    )
    parser.add_argument("--show", action="store_true", help="print each message judged wrong")
    args = parser.parse_args()
    out: Path = result_path("handoff-asking", "md", variant=args.split)
    copy_stdout_to(out)
    asyncio.run(measure(args.split, args.thresholds or [None], args.show))
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
