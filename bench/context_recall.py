"""Context recall of the six labelled bots: does main's whole prompt (curated answer, routed
flows' outputs, retrieved passages, table rows, the message) hold the facts a correct answer
needs? Per bot and split: context recall in main's prompt and in main's and its flows'
prompts, exact routing, and the median size of main's prompt, as configured and, for a bot with
documents, with every `snippet` a template shows swapped for its chunk's whole `text` and the
other way round (and with a sources block added to a main prompt that shows none).

    PYTHONPATH=src .venv/bin/python bench/context_recall.py            # ~1 min on 2 cores
    PYTHONPATH=src .venv/bin/python bench/context_recall.py --facts DIR --bots vinhuset

Reads tests/data/facts/<bot>.jsonl ({message, flows, facts, kind, split, answerable?}); lines
without facts are routed but not checked. Runs `chinwag eval`'s code (chinwag.evaluation) with
the real router, table lookup and search, and a chat model that records prompts: no LLM. Every
bot's documents are ingested into a temporary LanceDB index (vinhuset: the demo's; hyttegrenda,
which has no knowledge section, gets one over examples/hyttegrenda/knowledge), and vinhuset's
curated answers (answers.csv) are put in a temporary SQLite database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelled_bots import BOTS, DEMO, DOCUMENTS, ROOT
from result_files import copy_stdout_to, result_path

from chinwag.answers.csvfile import from_csv
from chinwag.answers.matching import CuratedMatcher
from chinwag.answers.service import add_missing
from chinwag.bots.activation import check_file
from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig, KnowledgeConfig
from chinwag.db.migrate import ensure_schema
from chinwag.db.uow import Database
from chinwag.engine.curated import CuratedLookup
from chinwag.engine.router import Router
from chinwag.engine.tables import TableLookups
from chinwag.evaluation.context import ContextReport, check_context
from chinwag.evaluation.engine import EvalEngine
from chinwag.evaluation.run import Labelled, evaluate_routing
from chinwag.knowledge.ingest import ingest
from chinwag.knowledge.runtime import KnowledgeStores, standalone_knowledge
from chinwag.settings import Settings

CURATED = {"vinhuset": DEMO / "answers.csv"}
# Template rewrites of a bot with knowledge: a source's whole chunk (`text`) where the template
# shows its `snippet` (the passage about the question), and the other way round.
REWRITES: dict[str, Callable[[str], str]] = {
    "whole chunks": lambda t: re.sub(r"\.snippet\b", ".text", t),
    "snippets": lambda t: re.sub(r"\.text\b", ".snippet", t),
}
# For a bot given documents whose main prompt never shows them (hyttegrenda): bokhylla's block.
SOURCES_BLOCK = """
{%- if sources %}

Relevant notes from the shop's documents:{% for s in sources %}

## {{ s.title }}
{{ s.text }}{% endfor %}
{%- endif %}"""


@dataclass(frozen=True, slots=True)
class Line:
    split: str
    item: Labelled


def lines_of(path: Path) -> list[Line]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        Line(
            r.get("split", "-"),
            Labelled(
                r["message"], r.get("flows"), facts=r.get("facts") or None, kind=r.get("kind")
            ),
        )
        for r in rows
    ]


def with_templates(bot: BotConfig, rewrite: Callable[[str], str]) -> BotConfig:
    flows = {
        name: flow.model_copy(
            update={
                "system": rewrite(flow.system) if flow.system else flow.system,
                "template": rewrite(flow.template) if flow.template else flow.template,
            }
        )
        for name, flow in bot.flows.items()
    }
    return bot.model_copy(update={"flows": flows})


def sees_sources(bot: BotConfig) -> bool:
    main = bot.flows["main"]
    return "sources" in f"{main.system or ''}{main.template or ''}"


def variants(bot: BotConfig) -> dict[str, BotConfig]:
    """The bot as configured, and for a bot with knowledge its prompts showing sources (when
    they do not), whole chunks and snippets; a variant whose prompts are another's is left out."""
    found = {"configured": bot}
    if bot.knowledge is None:
        return found
    if not sees_sources(bot):
        main = bot.flows["main"]
        system = (main.system or "") + SOURCES_BLOCK
        flows = {**bot.flows, "main": main.model_copy(update={"system": system})}
        bot = found["sources added"] = bot.model_copy(update={"flows": flows})
    for name, rewrite in REWRITES.items():
        config = with_templates(bot, rewrite)
        if all(config != other for other in found.values()):
            found[name] = config
    return found


async def with_documents(bot: BotConfig, knowledge: KnowledgeStores) -> BotConfig:
    """The bot with its documents ingested into a fresh index (a knowledge section if none)."""
    config = bot.knowledge or KnowledgeConfig(index=bot.id)
    bot = bot.model_copy(update={"knowledge": config})
    service = knowledge.service(config, bot.embedding)
    await service.store.create(config.index, await service.embedder.dimension())
    summary = await ingest(service.store, service.embedder, config.index, [DOCUMENTS[bot.id]])
    print(f"  {bot.id}: {summary.line()}", flush=True)
    return bot


@asynccontextmanager
async def curated_answers(
    bot: BotConfig, knowledge: KnowledgeStores, work: Path
) -> AsyncIterator[CuratedLookup | None]:
    """The bot's curated answers in a temporary SQLite database (None: it has none)."""
    if bot.id not in CURATED or bot.curated_answers.mode == "off":
        yield None
        return
    db = Database.from_url(f"sqlite+aiosqlite:///{work / f'{bot.id}.db'}")
    try:
        await ensure_schema(db)
        async with db.write() as conn:
            await put_bot(conn, bot)
            await add_missing(conn, bot.id, from_csv(CURATED[bot.id].read_text()))
        models = knowledge.models
        yield CuratedMatcher(db, lambda b: models.embedder(b.embedding))
    finally:
        await db.dispose()


def share(held: int, count: int) -> str:
    return f"{held / count:.1%} ({held}/{count})" if count else "-"


async def measure(
    bot_id: str, lines: list[Line], work: Path
) -> tuple[list[dict[str, Any]], ContextReport]:
    """One row per split and variant, and the checks (both splits) of the bot as configured, or
    with sources added to a main prompt that had none; that variant's misses are printed."""
    settings = Settings(llm_base_url=None, data_dir=work, _env_file=None)  # type: ignore[call-arg]
    bot = check_file(BOTS[bot_id], check_env=False).config
    assert bot is not None, f"{BOTS[bot_id]} does not validate"
    rows: list[dict[str, Any]] = []
    shown_checks = ContextReport()
    async with AsyncExitStack() as stack:
        knowledge = await stack.enter_async_context(standalone_knowledge(settings))
        models = knowledge.models
        if bot_id in DOCUMENTS:
            bot = await with_documents(bot, knowledge)
            if not sees_sources(bot):
                print(f"  note: {bot_id}'s main prompt never shows `sources`", flush=True)
        bots = variants(bot)
        shown = "sources added" if "sources added" in bots else "configured"
        curated = await stack.enter_async_context(curated_answers(bot, knowledge, work))
        router = Router(
            embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot
        )
        tables = TableLookups(lambda b: models.embedder(b.embedding))
        splits = sorted({line.split for line in lines})
        routed = {
            split: await evaluate_routing(
                router, bot, 1, [line.item for line in lines if line.split == split]
            )
            for split in splits
        }
        for variant, config in bots.items():
            engine = EvalEngine(
                bot=config,
                version=1,
                router=router,
                model_for=models.for_bot,
                knowledge=knowledge.for_bot(config),
                tables=tables,
                curated=curated,
            )
            for split in splits:
                items = [line.item for line in lines if line.split == split]
                context = ContextReport(await check_context(engine, items))
                right = sum(r.right for r in routed[split])
                rows.append(
                    {
                        "bot": bot_id,
                        "split": split,
                        "variant": variant,
                        "questions": len(context.checks),
                        "main": share(context.held(), len(context.checks)),
                        "flows": share(context.held(with_flows=True), len(context.checks)),
                        "routing": share(right, len(routed[split])),
                        "chars": context.median_prompt_chars,
                    }
                )
                if variant == shown:
                    shown_checks.checks += context.checks
                    print_misses(bot_id, split, context)
    return rows, shown_checks


def print_misses(bot_id: str, split: str, context: ContextReport) -> None:
    for c in context.misses:
        where = "" if c.answered_by == "main" else f"; answered by {c.answered_by}"
        print(
            f"  {bot_id}/{split} miss: {c.message!r}: {', '.join(c.missing)} [{c.kind}]"
            f"{'' if c.missing_with_flows else ' (in a flow prompt)'}{where}; "
            f"flows {', '.join(c.flows) or '-'}; retrieved {'; '.join(c.retrieved[:2]) or '-'}",
            flush=True,
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--facts", type=Path, default=ROOT / "tests/data/facts")
    parser.add_argument("--bots", default=",".join(BOTS), help="comma-separated bot ids")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("context-recall", "md"),
        help="also write what is printed here; default bench/results/context-recall-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    print("## Context recall per bot and split\n")
    rows: list[dict[str, Any]] = []
    by_bot: dict[str, ContextReport] = {}
    for bot_id in args.bots.split(","):
        path = args.facts / f"{bot_id}.jsonl"
        if not path.exists():
            print(f"  {bot_id}: no {path}, skipped", flush=True)
            continue
        with tempfile.TemporaryDirectory(prefix=f"context-{bot_id}-") as work:
            found, by_bot[bot_id] = await measure(bot_id, lines_of(path), Path(work))
            rows += sorted(found, key=lambda r: r["split"])  # variants in order within a split
    print(
        "\n| bot | split | variant | questions with facts | all facts in main prompt "
        "| in main + flow prompts | routing exact | median main prompt chars |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        chars = f"{r['chars']:,.0f}" if r["chars"] is not None else "-"
        print(
            f"| {r['bot']} | {r['split']} | {r['variant']} | {r['questions']} | {r['main']} "
            f"| {r['flows']} | {r['routing']} | {chars} |"
        )
    print(
        "\n| bot (as configured, or sources added; both splits) | kind | questions | main prompt "
        "| main + flow prompts |"
    )
    print("|---|---|---|---|---|")
    for bot_id, context in by_bot.items():
        for kind in context.kinds():
            count = context.count(kind)
            print(
                f"| {bot_id} | {kind} | {count} | {share(context.held(kind=kind), count)} "
                f"| {share(context.held(with_flows=True, kind=kind), count)} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
