"""Run one message through a bot: route, run the chosen flows in parallel, then stream `main`.

An optional flow that fails or times out emits `flow.failed` and the answer goes on without
it; `main` sees the outputs of the flows that succeeded as `flows.<name>.output`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from chinwag.config.bot import BotConfig, FlowConfig, LLMConfig
from chinwag.engine.curated import CuratedLookup, CuratedMatch, CuratedMode, answer_pieces
from chinwag.engine.router import RouteDecision, Router
from chinwag.engine.tables import TableLookups
from chinwag.engine.templates import render
from chinwag.errors import ChinwagError, FlowTimeout
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.protocols import ChatMessage, ChatModel, GenerationOptions, Usage
from chinwag.streams.events import (
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    MessageDelta,
    RetrievalCompleted,
    RouteDecided,
    RouteError,
    Source,
)
from chinwag.streams.events import StreamEvent as Event

Emit = Callable[[Event], object]
ModelFor = Callable[[LLMConfig | None], ChatModel]


@dataclass(frozen=True, slots=True)
class MessageInput:
    """What the engine knows about one incoming message."""

    text: str
    history: Sequence[tuple[str, str]]  # (role, content), oldest first
    user_id: str
    bot_version: int


@dataclass(slots=True)
class FlowRun:
    """The record of one flow that ran for a message (kept with the message)."""

    flow: str
    status: str  # completed | failed
    ms: float
    score: float | None = None
    usage: Usage | None = None
    error_code: str | None = None
    output: str = ""

    def as_row(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "status": self.status,
            "ms": self.ms,
            "score": self.score,
            "usage": self.usage.model_dump() if self.usage is not None else None,
            "error_code": self.error_code,
        }


@dataclass(slots=True)
class Answer:
    """The answer as it grows; on failure it still holds the text and the flows so far."""

    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    route: RouteDecision | None = None
    flow_runs: list[FlowRun] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # what main's answer was based on
    curated: CuratedMatch | None = None
    curated_mode: CuratedMode = "answer"

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def route_record(self) -> dict[str, Any] | None:
        """How the answer came about: the router's decision, and the curated answer used."""
        record: dict[str, Any] = {}
        if self.route is not None:
            r = self.route
            record = {"strategy": r.strategy, "flows": r.flows, "scores": r.scores, "ms": r.ms}
            if r.error is not None:
                record["error"] = {"code": r.error.code, "message": r.error.message}
        if self.curated is not None:
            record["curated"] = self.curated.mark(self.curated_mode).model_dump()
        return record or None


async def run_message(
    bot: BotConfig,
    message: MessageInput,
    *,
    router: Router,
    model_for: ModelFor,
    emit: Emit,
    answer: Answer,
    knowledge: KnowledgeService | None = None,
    curated: CuratedLookup | None = None,
    tables: TableLookups | None = None,
) -> None:
    """Answer from a matching curated answer, or route, run the chosen optional flows
    concurrently (and `main`'s retrieval with them), then stream `main` into `answer`."""
    mode = bot.curated_answers.mode
    if curated is not None and mode != "off":
        answer.curated = await curated(bot, message.text)
        answer.curated_mode = mode
        if answer.curated is not None and mode == "answer":
            serve_curated(answer.curated, emit, answer)
            return
    main_sources = (
        asyncio.create_task(retrieve("main", knowledge, message, emit))
        if knowledge is not None and wants_retrieval("main", bot.flows["main"])
        else None
    )
    try:
        decision = await router.route(bot, message.bot_version, message.text)
        answer.route = decision
        emit(route_event(decision))
        runs = await asyncio.gather(
            *(
                run_optional_flow(
                    bot,
                    name,
                    message,
                    model_for,
                    emit,
                    decision.scores.get(name),
                    knowledge,
                    tables,
                )
                for name in decision.flows
            )
        )
        answer.flow_runs.extend(runs)
        outputs = {r.flow: {"output": r.output} for r in runs if r.status == "completed"}
        await run_main_flow(
            bot, message, model_for, emit, answer, outputs, main_sources, answer.curated, tables
        )
    finally:
        if main_sources is not None and not main_sources.done():
            main_sources.cancel()


def serve_curated(match: CuratedMatch, emit: Emit, answer: Answer) -> None:
    """The curated text as the answer: its deltas, no router, no flows, no LLM call."""
    answer.sources = match.cited()
    for piece in answer_pieces(match.answer):
        answer.parts.append(piece)
        emit(MessageDelta(text=piece))


def route_event(decision: RouteDecision) -> RouteDecided:
    error = decision.error
    return RouteDecided(
        flows=["main", *decision.flows],
        scores=decision.scores,
        strategy=decision.strategy,
        ms=decision.ms,
        error=None if error is None else RouteError(code=error.code, message=error.message),
    )


def wants_retrieval(name: str, flow: FlowConfig) -> bool:
    """Whether a flow searches the knowledge index: its `retrieval`, by default `main` only."""
    return flow.retrieval if flow.retrieval is not None else name == "main"


@dataclass(frozen=True, slots=True)
class Retrieval:
    """One search's results: as cited (events, the message) and as the templates see them."""

    cited: list[Source]
    variables: list[dict[str, Any]]


NOTHING_RETRIEVED = Retrieval([], [])


async def retrieve(
    flow: str, knowledge: KnowledgeService, message: MessageInput, emit: Emit
) -> Retrieval:
    """Search the bot's index for the message and emit retrieval.completed."""
    results = await knowledge.search(message.text)
    cited = [
        Source(document=r.document, title=r.title, score=r.score, snippet=r.snippet, url=r.url)
        for r in results
    ]
    emit(RetrievalCompleted(flow=flow, sources=cited))
    variables = [
        {**s.model_dump(), "text": r.text, **r.metadata}
        for s, r in zip(cited, results, strict=True)
    ]
    return Retrieval(cited, variables)


async def run_optional_flow(
    bot: BotConfig,
    name: str,
    message: MessageInput,
    model_for: ModelFor,
    emit: Emit,
    score: float | None,
    knowledge: KnowledgeService | None = None,
    tables: TableLookups | None = None,
) -> FlowRun:
    """Run one optional flow to its whole output, within its timeout; never raises."""
    flow = bot.flows[name]
    started = time.perf_counter()
    emit(FlowStarted(flow=name))
    parts: list[str] = []
    usage: Usage | None = None
    try:
        async with asyncio.timeout(flow.timeout_seconds):
            retrieval = (
                await retrieve(name, knowledge, message, emit)
                if knowledge is not None and wants_retrieval(name, flow)
                else NOTHING_RETRIEVED
            )
            looked_up = await look_up(bot, name, message, tables)
            prompt = build_prompt(bot, name, message, {}, retrieval.variables, looked_up)
            if not flow.generate:
                parts.append(prompt[-1].content)
            else:
                model = model_for(flow.llm.over(bot.llm) if flow.llm else bot.llm)
                async for item in model.stream(prompt, _options(bot, flow)):
                    if isinstance(item, str):
                        parts.append(item)
                    else:
                        usage = item
    except (ChinwagError, TimeoutError) as exc:
        error = (
            exc
            if isinstance(exc, ChinwagError)
            else FlowTimeout(f"flow '{name}' took longer than {flow.timeout_seconds} s")
        )
        ms = _ms_since(started)
        emit(FlowFailed(flow=name, ms=ms, code=error.code, message=error.message))
        return FlowRun(name, "failed", ms, score, usage, error.code)
    ms = _ms_since(started)
    emit(FlowCompleted(flow=name, ms=ms, usage=usage, rows=_counts(looked_up)))
    return FlowRun(name, "completed", ms, score, usage, output="".join(parts).strip())


async def run_main_flow(
    bot: BotConfig,
    message: MessageInput,
    model_for: ModelFor,
    emit: Emit,
    answer: Answer,
    flow_outputs: dict[str, dict[str, str]],
    sources_task: asyncio.Task[Retrieval] | None = None,
    curated: CuratedMatch | None = None,
    tables: TableLookups | None = None,
) -> None:
    """Stream the main flow's answer into `answer`, emitting flow and delta events; a
    curated answer (`prefer` mode) is part of its prompt."""
    started = time.perf_counter()
    emit(FlowStarted(flow="main"))
    main = bot.flows["main"]
    looked_up: dict[str, list[dict[str, str]]] | None = None
    try:
        retrieval = await sources_task if sources_task is not None else NOTHING_RETRIEVED
        answer.sources = retrieval.cited
        looked_up = await look_up(bot, "main", message, tables)
        prompt = build_prompt(bot, "main", message, flow_outputs, retrieval.variables, looked_up)
        if curated is not None:
            prompt.insert(-1, curated.as_context())
        model = model_for(main.llm.over(bot.llm) if main.llm else bot.llm)
        async for item in model.stream(prompt, _options(bot, main)):
            if isinstance(item, str):
                answer.parts.append(item)
                emit(MessageDelta(text=item))
            else:
                answer.usage = item
    except ChinwagError as exc:
        ms = _ms_since(started)
        answer.flow_runs.append(
            FlowRun("main", "failed", ms, usage=answer.usage, error_code=exc.code)
        )
        emit(FlowFailed(flow="main", ms=ms, code=exc.code, message=exc.message))
        raise
    ms = _ms_since(started)
    answer.flow_runs.append(FlowRun("main", "completed", ms, usage=answer.usage))
    emit(FlowCompleted(flow="main", ms=ms, usage=answer.usage, rows=_counts(looked_up)))


def build_prompt(
    bot: BotConfig,
    flow_name: str,
    message: MessageInput,
    flow_outputs: dict[str, dict[str, str]],
    sources: list[dict[str, Any]] | None = None,
    looked_up: dict[str, list[dict[str, str]]] | None = None,
) -> list[ChatMessage]:
    """The chat messages of one flow: its system prompt, the history, its rendered template.

    Tables in `looked_up` (table lookup) replace the whole table in `data.<name>`."""
    flow = bot.flows[flow_name]
    assert flow.template is not None, "validation rejects flows without templates that run"
    tables = looked_up or {}
    variables = {
        "message": message.text,
        "history": [{"role": role, "content": content} for role, content in message.history],
        "sources": sources or [],
        "flows": flow_outputs,
        "user": {"id": message.user_id},
        "bot": {"id": bot.id, "name": bot.name, "version": message.bot_version},
        "now": datetime.now(UTC),
        "data": {
            name: tables[name] if name in tables else table_rows(text)
            for name, text in flow.data.items()
        },
    }
    where = f"flows.{flow_name}"
    prompt: list[ChatMessage] = []
    if flow.system:
        prompt.append(
            ChatMessage("system", render(flow.system, variables, where=f"{where}.system"))
        )
    prompt.extend(ChatMessage(role, content) for role, content in message.history)
    prompt.append(ChatMessage("user", render(flow.template, variables, where=f"{where}.template")))
    return prompt


async def look_up(
    bot: BotConfig, flow_name: str, message: MessageInput, tables: TableLookups | None
) -> dict[str, list[dict[str, str]]] | None:
    """The matching rows of the flow's looked-up tables (None: the flow looks nothing up)."""
    flow = bot.flows[flow_name]
    if tables is None or not flow.lookup:
        return None
    found = await tables.lookup(
        bot,
        message.bot_version,
        flow_name,
        lambda name: table_rows(flow.data[name]),
        message.text,
    )
    return {name: lookup.rows for name, lookup in found.items()}


def _counts(looked_up: dict[str, list[dict[str, str]]] | None) -> dict[str, int] | None:
    return {name: len(rows) for name, rows in looked_up.items()} if looked_up else None


@lru_cache(maxsize=256)
def table_rows(text: str) -> tuple[dict[str, str], ...]:
    """A flow's CSV table as rows (parsed once per distinct text)."""
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


def _options(bot: BotConfig, flow: FlowConfig) -> GenerationOptions:
    llm = flow.llm.over(bot.llm) if flow.llm else bot.llm
    return GenerationOptions(
        temperature=llm.temperature if llm else None, max_tokens=llm.max_tokens if llm else None
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
