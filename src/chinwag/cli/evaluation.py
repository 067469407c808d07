"""`chinwag eval BOT FILE.jsonl`: routing accuracy, recall per search mode, context recall, what
went wrong, and the misrouted messages as examples to paste."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chinwag.cli.common import settings

if TYPE_CHECKING:
    from chinwag.config.bot import BotConfig
    from chinwag.engine.curated import CuratedLookup
    from chinwag.evaluation.context import ContextReport
    from chinwag.evaluation.engine import EvalEngine
    from chinwag.evaluation.run import EvalReport, Labelled
    from chinwag.providers.registry import ModelRegistry


def evaluate(
    bot: Annotated[
        str, typer.Argument(help="The bot id, or its YAML file (to measure it before import).")
    ],
    file: Annotated[Path, typer.Argument(help="Labelled questions, one JSON object a line.")],
    answers: Annotated[
        bool, typer.Option("--answers", help="Also answer each question (calls the LLM).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_routing: Annotated[
        float | None,
        typer.Option(help="Exit with 1 when routing accuracy is below this (0-1)."),
    ] = None,
    min_recall: Annotated[
        float | None,
        typer.Option(help="Exit with 1 when recall@5 in the bot's search mode is below this."),
    ] = None,
    min_context_recall: Annotated[
        float | None,
        typer.Option(
            help="Exit with 1 when the share of questions whose facts all reach main's or its "
            "flows' prompts is below this."
        ),
    ] = None,
) -> None:
    """Run labelled questions through the bot's real router and search, and report."""
    from chinwag.errors import EvalBelowThreshold
    from chinwag.evaluation.run import load_labelled

    items = load_labelled(file)
    report, mode = asyncio.run(_evaluate(bot, items, answers=answers))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(render(report, mode))
    failures = []
    accuracy = report.routing_accuracy
    if min_routing is not None and accuracy is not None and accuracy < min_routing:
        failures.append(f"routing accuracy {accuracy:.1%} is below --min-routing {min_routing}")
    recall = report.recall(mode, 5) if mode else None
    if min_recall is not None and recall is not None and recall < min_recall:
        failures.append(f"{mode} recall@5 {recall:.1%} is below --min-recall {min_recall}")
    context = report.context.recall(with_flows=True)
    if min_context_recall is not None and context is not None and context < min_context_recall:
        failures.append(
            f"context recall {context:.1%} is below --min-context-recall {min_context_recall}"
        )
    if failures:
        raise EvalBelowThreshold("; ".join(failures))


async def _evaluate(bot: str, items: list[Labelled], *, answers: bool) -> tuple[EvalReport, str]:
    from chinwag.engine.router import Router
    from chinwag.engine.scope import Scope
    from chinwag.engine.tables import TableLookups
    from chinwag.evaluation.context import check_context
    from chinwag.evaluation.engine import EvalEngine
    from chinwag.evaluation.run import (
        EvalReport,
        collect_answers,
        evaluate_routing,
        evaluate_search,
    )
    from chinwag.knowledge.runtime import standalone_knowledge

    config, version, in_database = await _bot(bot)
    report = EvalReport(config.id)
    async with (
        standalone_knowledge(settings()) as knowledge,
        _curated_answers(config, knowledge.models, in_database=in_database) as curated,
    ):
        models = knowledge.models
        router = Router(
            embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot
        )
        report.routed = await evaluate_routing(router, config, version, items)
        service = knowledge.for_bot(config)
        mode = config.knowledge.mode if config.knowledge else ""
        if service is None:
            if any(item.documents for item in items):
                report.notes.append(f"bot '{config.id}' has no knowledge: documents not checked")
        else:
            report.modes = (
                ["vector", "keyword", "hybrid"] if service.store.keyword_search else ["vector"]
            )
            report.searched = await evaluate_search(service, items, report.modes)
        engine = EvalEngine(
            bot=config,
            version=version,
            router=router,
            model_for=models.for_bot,
            knowledge=service,
            tables=TableLookups(lambda b: models.embedder(b.embedding)),
            curated=curated,
            scope=Scope(lambda b: models.embedder(b.embedding)),
        )
        report.context.checks = await check_context(engine, items)
        if answers:
            report.answers = await collect_answers(items, lambda text: _answer_text(engine, text))
    return report, mode


async def _answer_text(engine: EvalEngine, text: str) -> str:
    return (await engine.answer(text)).text


async def _bot(bot: str) -> tuple[BotConfig, int, bool]:
    """The configuration to measure, its version (0 for a file not yet imported), and whether
    it is in the database."""
    from chinwag.bots.service import get_bot
    from chinwag.cli.common import database
    from chinwag.cli.knowledge import _config_from_file

    from_file = await asyncio.to_thread(_config_from_file, bot)
    if from_file is not None:
        return from_file, 0, False
    async with database() as db, db.read() as conn:
        found = await get_bot(conn, bot)
    return found.config, found.version, True


@asynccontextmanager
async def _curated_answers(
    config: BotConfig, models: ModelRegistry, *, in_database: bool
) -> AsyncIterator[CuratedLookup | None]:
    """The bot's curated answers as its answers use them; a YAML file's bot has none yet."""
    from chinwag.answers.matching import CuratedMatcher
    from chinwag.cli.common import database

    if not in_database or config.curated_answers.mode == "off":
        yield None
        return
    async with database() as db:
        yield CuratedMatcher(db, lambda b: models.embedder(b.embedding))


def render(report: EvalReport, mode: str) -> str:
    """The report as text: figures first, then what went wrong."""
    from chinwag.evaluation.run import DEPTHS

    lines = [f"bot {report.bot}"]
    accuracy = report.routing_accuracy
    if accuracy is not None:
        right = sum(r.right for r in report.routed)
        latencies = sorted(r.ms for r in report.routed)
        lines += [
            "",
            f"routing: {right}/{len(report.routed)} right ({accuracy:.1%}), "
            f"p50 {latencies[len(latencies) // 2]:.1f} ms",
            "",
            *_confusion_lines(report),
        ]
        wrong = [r for r in report.routed if not r.right]
        if wrong:
            lines += ["", f"misrouted ({len(wrong)}): expected -> chosen"]
            lines += [f"  {r.message!r}: {_flows(r.expected)} -> {_flows(r.chosen)}" for r in wrong]
    if report.searched:
        lines += [
            "",
            f"retrieval: {len(report.searched)} questions",
            "",
            "| mode | " + " | ".join(f"recall@{d}" for d in DEPTHS) + " |",
            "|---|---|---|---|",
        ]
        for m in report.modes:
            figures = " | ".join(f"{report.recall(m, d):.2f}" for d in DEPTHS)
            lines.append(f"| {m}{' (bot)' if m == mode else ''} | {figures} |")
        missed = report.missed(mode) if mode in report.modes else []
        if missed:
            lines += ["", f"missed by {mode} search in the first 5 ({len(missed)}):"]
            lines += [
                f"  {s.message!r}: wanted {', '.join(s.expected)}; got "
                f"{', '.join(s.found[mode][:3]) or 'nothing'}"
                for s in missed
            ]
    if report.context.checks:
        lines += ["", *_context_lines(report.context)]
    for a in report.answers:
        lines += ["", f"Q: {a['message']}", f"A: {a['answer']}", f"reference: {a['reference']}"]
    lines += [f"note: {n}" for n in report.notes]
    suggested = report.suggested_examples()
    if suggested:
        lines += ["", "examples to add from the misrouted messages (paste into the bot's YAML):"]
        lines += [line for flow, messages in suggested.items() for line in _yaml(flow, messages)]
    return "\n".join(lines)


def _context_lines(context: ContextReport) -> list[str]:
    """Context recall overall and by kind, the prompt size, then the questions that missed."""
    from chinwag.evaluation.context import NO_KIND

    n = len(context.checks)
    main, both = context.held(), context.held(with_flows=True)
    size = context.median_prompt_chars
    lines = [
        f"context: {main}/{n} questions have all their facts in main's prompt ({main / n:.1%}), "
        f"{both}/{n} in main's and its flows' prompts ({both / n:.1%})",
        f"median main prompt: {size:,.0f} characters" if size is not None else "no main prompt",
    ]
    kinds = context.kinds()
    if kinds != [NO_KIND]:
        lines += [
            "",
            "| kind | questions | main prompt | main + flow prompts |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {k} | {context.count(k)} | {context.recall(kind=k):.2f} | "
            f"{context.recall(with_flows=True, kind=k):.2f} |"
            for k in kinds
        ]
    if context.misses:
        lines += ["", f"facts missing from main's prompt ({len(context.misses)}):"]
    for c in context.misses:
        in_flows = [f for f in c.missing if f not in c.missing_with_flows]
        lines.append(
            f"  {c.message!r}: missing {', '.join(c.missing)}"
            + (f" (in a flow's prompt: {', '.join(in_flows)})" if in_flows else "")
            + (f"; answered by {c.answered_by}" if c.answered_by != "main" else "")
            + f"; flows: {_flows(c.flows)}; retrieved: {', '.join(c.retrieved) or 'nothing'}"
        )
    return lines


def _yaml(flow: str, messages: list[str]) -> list[str]:
    """A snippet to paste: the flow's key and its new examples (JSON strings are valid YAML)."""
    quoted = [f"      - {json.dumps(m, ensure_ascii=False)}" for m in messages]
    return ["", "flows:", f"  {flow}:", "    examples:", *quoted]


def _confusion_lines(report: EvalReport) -> list[str]:
    """Rows: the flow a message needed; columns: the flows chosen for those messages."""
    from chinwag.evaluation.run import MAIN_ALONE

    table = report.confusion()
    columns = sorted({c for row in table.values() for c in row} | set(table))
    columns.sort(key=lambda c: (c == MAIN_ALONE, c))
    rows = sorted(table, key=lambda c: (c == MAIN_ALONE, c))
    header = "| expected \\ chosen | " + " | ".join(columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    for row in rows:
        cells = " | ".join(str(table[row].get(c, 0) or "") for c in columns)
        lines.append(f"| {row} | {cells} |")
    return lines


def _flows(flows: list[str]) -> str:
    return ", ".join(flows) if flows else "main alone"
