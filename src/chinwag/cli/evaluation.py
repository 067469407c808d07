"""`chinwag eval BOT FILE.jsonl`: routing accuracy, recall per search mode, what went wrong."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chinwag.cli.common import settings

if TYPE_CHECKING:
    from chinwag.config.bot import BotConfig
    from chinwag.engine.router import Router
    from chinwag.evaluation.run import EvalReport, Labelled
    from chinwag.knowledge.search import KnowledgeService
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
    if failures:
        raise EvalBelowThreshold("; ".join(failures))


async def _evaluate(bot: str, items: list[Labelled], *, answers: bool) -> tuple[EvalReport, str]:
    from chinwag.engine.router import Router
    from chinwag.evaluation.run import (
        EvalReport,
        collect_answers,
        evaluate_routing,
        evaluate_search,
    )
    from chinwag.knowledge.runtime import standalone_knowledge

    config, version = await _bot(bot)
    report = EvalReport(config.id)
    async with standalone_knowledge(settings()) as knowledge:
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
        if answers:
            report.answers = await collect_answers(
                items, lambda text: _answer(config, version, text, router, models, service)
            )
    return report, mode


async def _bot(bot: str) -> tuple[BotConfig, int]:
    """The configuration to measure and its version (0 for a file not yet imported)."""
    from chinwag.bots.service import get_bot
    from chinwag.cli.common import database
    from chinwag.cli.knowledge import _config_from_file

    from_file = await asyncio.to_thread(_config_from_file, bot)
    if from_file is not None:
        return from_file, 0
    async with database() as db, db.read() as conn:
        found = await get_bot(conn, bot)
    return found.config, found.version


async def _answer(
    config: BotConfig,
    version: int,
    text: str,
    router: Router,
    models: ModelRegistry,
    knowledge: KnowledgeService | None,
) -> str:
    """main's answer to one question, through the whole engine (router, flows, retrieval)."""
    from chinwag.engine.context import FlowContext, MessageInput
    from chinwag.engine.runner import run_message

    context = FlowContext(
        bot=config,
        message=MessageInput(text=text, history=[], user_id="chinwag-eval", bot_version=version),
        emit=lambda event: None,
        model_for=models.for_bot,
        knowledge=knowledge,
    )
    await run_message(context, router=router)
    return context.answer.text


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
    for a in report.answers:
        lines += ["", f"Q: {a['message']}", f"A: {a['answer']}", f"reference: {a['reference']}"]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


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
