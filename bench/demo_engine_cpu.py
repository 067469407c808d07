"""The demo bot's engine alone: CPU per message of what it does beyond `main` only, and where.

    .venv/bin/python bench/demo_engine_cpu.py                # CPU per message, top functions
    .venv/bin/python bench/demo_engine_cpu.py --rounds 5 --top 30

The demo bot `vinhuset` as `chinwag demo` serves it (semantic router, scope classifier and the
grounded policy, hybrid retrieval on an embedded LanceDB index, table lookups) runs through the
real engine (`EvalEngine`, as `chinwag eval` runs it) in this process, over its labelled
in-scope messages (tests/data/routing/vinhuset.yaml, both splits: nothing is tuned on them).
Left out: the LLM (a stub answers "ok" at once), the `stock` tool's call (bench/tool_calls.py
measures one) and curated answers (they need a database). What is measured is the engine's own
work per message, the part of run_streaming.sh's demo row beyond its `main`-only row that is not
HTTP or the event log, without the noise of a loaded machine.

Each round runs every message once, with as many trailing spaces as the round's number: the
words and the model's tokens are the same, but no cache holds the text, as for a new message in
a server. The first round warms the model, the index and the caches and is not counted. CPU is
the process's (time.process_time) and each thread's (/proc/self/task): the event loop (the
engine's Python), the embedding model's thread, and the rest (LanceDB's own threads). One
more round runs under cProfile: the functions with the most time of their own, and the chinwag
functions with the most time inclusive, per message. cProfile's figures point, they do not
measure: it inflates code made of many small Python calls several times (words.occurs showed
1.35 ms a message; an index that cut it to 0.5 ms under cProfile moved the event loop's thread
by less than its noise, ±0.3 ms), so size a change with the thread figures.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from labelled_bots import BOTS, Stub, in_scope, knowledge_for
from result_files import copy_stdout_to, result_path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.config.llm import LLMConfig
from chinwag.engine.router import Router
from chinwag.engine.scope import Scope
from chinwag.engine.tables import TableLookups
from chinwag.evaluation.engine import EvalEngine
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings

BOT = "vinhuset"


def without_tools(bot: BotConfig) -> BotConfig:
    """The demo bot with its flows' tools left out (a tool call is bench/tool_calls.py's)."""
    flows = {}
    for name, flow in bot.flows.items():
        if flow.tool is None:
            flows[name] = flow
        elif flow.tool_optional:  # the table answers alone when the tool cannot
            flows[name] = flow.model_copy(update={"tool": None, "arguments": {}})
    data = bot.model_dump()
    data["flows"] = {name: flow.model_dump() for name, flow in flows.items()}
    data["tools"] = {}
    return BotConfig.model_validate(data)


async def cpu_of_round(engine: EvalEngine, messages: list[str], number: int) -> dict[str, float]:
    """CPU ms per message: the process's, and by thread (thread_cpu's groups)."""
    process, threads = time.process_time(), thread_cpu()
    for text in messages:
        await engine.answer(text + " " * number)
    spent = {"all": time.process_time() - process}
    for name, seconds in thread_cpu().items():
        spent[name] = seconds - threads.get(name, 0.0)
    return {name: seconds * 1000 / len(messages) for name, seconds in spent.items()}


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads: the event loop's, the embedding model's, and the
    others (LanceDB's runtime, named by the library; Python threads are all named "python")."""
    python_names = {t.native_id: t.name for t in threading.enumerate()}
    found: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = python_names.get(int(task.name), "")
        if name == "MainThread":
            group = "the event loop (the engine's Python)"
        elif name.startswith("chinwag-embed"):
            group = "the embedding model's thread (ONNX Runtime)"
        else:
            group = "other threads (LanceDB's runtime)"
        found[group] = found.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return found


async def engine_for(models: ModelRegistry, work: Path) -> EvalEngine:
    """The demo bot's engine as a server runs it, its documents in a fresh index, learnt."""
    loaded = check_file(BOTS[BOT], check_env=False).config
    assert loaded is not None
    bot = without_tools(loaded).model_copy(update={"llm": LLMConfig(provider="local")})
    embedder_for = lambda b: models.embedder(b.embedding)  # noqa: E731
    engine = EvalEngine(
        bot=bot,
        version=1,
        router=Router(embedder_for=embedder_for, model_for=lambda _llm: Stub()),
        model_for=lambda _llm: Stub(),
        knowledge=await knowledge_for(bot, BOT, models, work),
        tables=TableLookups(embedder_for),
        scope=Scope(embedder_for),
    )
    await engine.router.prepare(bot, 1)
    assert engine.scope is not None
    await engine.scope.classifier(bot, 1)
    return engine


def print_profile(profile: cProfile.Profile, messages: int, top: int) -> None:
    stats = pstats.Stats(profile)
    rows: list[tuple[float, float, str]] = []
    for (path, line, func), (_, _, own, inclusive, _) in stats.stats.items():
        where = path.split("site-packages/")[-1].split("src/")[-1]
        rows.append((own, inclusive, f"{func} ({where}:{line})"))
    print(f"\n### Time of its own, ms per message (cProfile, {messages} messages)\n")
    print("| function | own | inclusive |\n|---|---|---|")
    for own, inclusive, name in sorted(rows, reverse=True)[:top]:
        print(f"| {name} | {own * 1000 / messages:.3f} | {inclusive * 1000 / messages:.3f} |")
    print("\n### chinwag functions, inclusive ms per message\n")
    print("| function | inclusive |\n|---|---|")
    ours = [r for r in rows if r[2].split("(")[-1].startswith("chinwag/")]
    for _, inclusive, name in sorted(ours, key=lambda r: -r[1])[:top]:
        print(f"| {name} | {inclusive * 1000 / messages:.3f} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds (after one warm-up)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=result_path("demo-engine-cpu", "md"))
    args = parser.parse_args()
    copy_stdout_to(args.out)
    messages = [m["message"] for m in in_scope(BOT)]
    settings = Settings(llm_base_url=None, _env_file=None)  # type: ignore[call-arg]
    models = ModelRegistry(settings)
    work = Path(tempfile.mkdtemp(prefix="chinwag-demo-engine-"))
    try:
        engine = await engine_for(models, work)
        await cpu_of_round(engine, messages, 0)  # warm-up
        per_round = [await cpu_of_round(engine, messages, n) for n in range(1, args.rounds + 1)]
        print(f"## The demo bot's engine, {len(messages)} in-scope messages, {args.rounds} rounds")
        for name in per_round[0]:
            figures = [r.get(name, 0.0) for r in per_round]
            title = "CPU per message, all" if name == "all" else f"of which {name}"
            print(
                f"\n{title}: **{statistics.median(figures):.2f} ms** median of the rounds "
                f"({', '.join(f'{r:.2f}' for r in figures)})"
            )
        profile = cProfile.Profile()
        profile.enable()
        await cpu_of_round(engine, messages, args.rounds + 1)
        profile.disable()
        print_profile(profile, len(messages), args.top)
    finally:
        await models.aclose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
