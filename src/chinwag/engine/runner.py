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
from chinwag.engine.tables import Lookup, TableLookups
from chinwag.engine.templates import render
from chinwag.errors import ChinwagError, FlowTimeout
from chinwag.knowledge.search import KnowledgeService
from chinwag.norwegian import written_in_norwegian
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
class FlowResult:
    """What one flow that ran for a message gave (stored as a `flow_runs` row with it)."""

    flow: str
    status: str  # completed | failed
    ms: float
    score: float | None = None
    usage: Usage | None = None
    error_code: str | None = None
    output: str = ""
    # False when its table rows were only the nearest to the message in meaning (the message
    # named none of them): then it never answers word for word.
    rows_selected: bool = True

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
    flow_results: list[FlowResult] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # what main's answer was based on
    curated: CuratedMatch | None = None
    curated_mode: CuratedMode = "answer"
    verbatim_from: str | None = None  # the optional flow whose output main gave word for word

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
        if self.verbatim_from is not None:
            record["verbatim_from"] = self.verbatim_from
        return record or None


@dataclass(slots=True)
class FlowContext:
    """What every flow of one message works with: the bot, the message (and its history),
    where its events go, its models, the bot's knowledge and tables, and the answer so far."""

    bot: BotConfig
    message: MessageInput
    emit: Emit
    model_for: ModelFor
    knowledge: KnowledgeService | None = None
    tables: TableLookups | None = None
    answer: Answer = field(default_factory=Answer)

    def model(self, flow: FlowConfig) -> ChatModel:
        """The chat model of a flow: its own `llm` over the bot's."""
        return self.model_for(flow.llm.over(self.bot.llm) if flow.llm else self.bot.llm)


async def run_message(
    ctx: FlowContext, *, router: Router, curated: CuratedLookup | None = None
) -> None:
    """Answer from a matching curated answer, or route, run the chosen optional flows
    concurrently (and `main`'s retrieval with them), then stream `main` into `ctx.answer`."""
    bot, answer = ctx.bot, ctx.answer
    mode = bot.curated_answers.mode
    # The semantic router starts beside the curated match, so the embedder runs the message
    # once for both (the router's clauses are pooled from the message's pass, not its vector).
    early_route = (
        asyncio.create_task(_route(router, ctx)) if bot.router.strategy == "semantic" else None
    )
    main_sources: asyncio.Task[Retrieval] | None = None
    try:
        if curated is not None and mode != "off":
            answer.curated = await curated(bot, ctx.message.text)
            answer.curated_mode = mode
            if answer.curated is not None and mode == "answer":
                serve_curated(ctx, answer.curated)
                return
        if ctx.knowledge is not None and wants_retrieval("main", bot.flows["main"]):
            main_sources = asyncio.create_task(retrieve(ctx, "main"))
        decision = await (early_route or _route(router, ctx))
        answer.route = decision
        ctx.emit(route_event(decision))
        results = await asyncio.gather(
            *(run_optional_flow(ctx, name, decision.scores.get(name)) for name in decision.flows)
        )
        answer.flow_results.extend(results)
        verbatim = verbatim_result(bot, results) if answer.curated is None else None
        if verbatim is not None:
            answer_verbatim(ctx, verbatim)
            return
        outputs = {r.flow: {"output": r.output} for r in results if r.status == "completed"}
        await run_main_flow(ctx, outputs, main_sources)
    finally:
        for task in (early_route, main_sources):
            if task is not None and not task.done():
                task.cancel()


async def _route(router: Router, ctx: FlowContext) -> RouteDecision:
    return await router.route(ctx.bot, ctx.message.bot_version, ctx.message.text)


def serve_curated(ctx: FlowContext, match: CuratedMatch) -> None:
    """The curated text as the answer: its deltas, no router, no flows, no LLM call."""
    ctx.answer.sources = match.cited()
    for piece in answer_pieces(match.answer):
        ctx.answer.parts.append(piece)
        ctx.emit(MessageDelta(text=piece))


def verbatim_result(bot: BotConfig, results: list[FlowResult]) -> FlowResult | None:
    """The one flow the router chose, when it has `verbatim_answer` and gave an output."""
    if len(results) != 1:
        return None
    (result,) = results
    flow = bot.flows[result.flow]
    ok = (
        flow.verbatim_answer
        and result.status == "completed"
        and result.output
        and result.rows_selected
    )
    return result if ok else None


def answer_verbatim(ctx: FlowContext, result: FlowResult) -> None:
    """`main` answers with the flow's output word for word: its deltas, no LLM call."""
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow="main"))
    ctx.answer.verbatim_from = result.flow
    for piece in answer_pieces(result.output):
        ctx.answer.parts.append(piece)
        ctx.emit(MessageDelta(text=piece))
    ms = _ms_since(started)
    ctx.answer.flow_results.append(FlowResult("main", "completed", ms))
    ctx.emit(FlowCompleted(flow="main", ms=ms))


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


async def retrieve(ctx: FlowContext, flow: str) -> Retrieval:
    """Search the bot's index for the message and emit retrieval.completed."""
    if ctx.knowledge is None or not wants_retrieval(flow, ctx.bot.flows[flow]):
        return NOTHING_RETRIEVED
    results = await ctx.knowledge.search(ctx.message.text)
    cited = [
        Source(document=r.document, title=r.title, score=r.score, snippet=r.snippet, url=r.url)
        for r in results
    ]
    ctx.emit(RetrievalCompleted(flow=flow, sources=cited))
    variables = [
        {**s.model_dump(), "text": r.text, **r.metadata}
        for s, r in zip(cited, results, strict=True)
    ]
    return Retrieval(cited, variables)


async def run_optional_flow(ctx: FlowContext, name: str, score: float | None) -> FlowResult:
    """Run one optional flow to its whole output, within its timeout; never raises."""
    flow = ctx.bot.flows[name]
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow=name))
    parts: list[str] = []
    usage: Usage | None = None
    looked_up: dict[str, Lookup] | None = None
    try:
        async with asyncio.timeout(flow.timeout_seconds):
            retrieval = await retrieve(ctx, name)
            looked_up = await look_up(ctx, name)
            prompt = build_prompt(ctx, name, {}, retrieval.variables, _rows(looked_up))
            if not flow.generate:
                parts.append(prompt[-1].content)
            else:
                options = _options(ctx, flow, whole=True)  # main reads it whole
                async for item in ctx.model(flow).stream(prompt, options):
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
        ctx.emit(FlowFailed(flow=name, ms=ms, code=error.code, message=error.message))
        return FlowResult(name, "failed", ms, score, usage, error.code)
    ms = _ms_since(started)
    ctx.emit(FlowCompleted(flow=name, ms=ms, usage=usage, rows=_counts(looked_up)))
    selected = all(lookup.selected for lookup in (looked_up or {}).values())
    output = "".join(parts).strip()
    return FlowResult(name, "completed", ms, score, usage, output=output, rows_selected=selected)


async def run_main_flow(
    ctx: FlowContext,
    flow_outputs: dict[str, dict[str, str]],
    sources_task: asyncio.Task[Retrieval] | None = None,
) -> None:
    """Stream the main flow's answer into `ctx.answer`, emitting flow and delta events; a
    curated answer (`prefer` mode) is part of its prompt."""
    answer = ctx.answer
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow="main"))
    main = ctx.bot.flows["main"]
    looked_up: dict[str, Lookup] | None = None
    try:
        retrieval = await sources_task if sources_task is not None else NOTHING_RETRIEVED
        answer.sources = retrieval.cited
        looked_up = await look_up(ctx, "main")
        prompt = build_prompt(ctx, "main", flow_outputs, retrieval.variables, _rows(looked_up))
        if answer.curated is not None:
            prompt.insert(-1, answer.curated.as_context())
        async for item in ctx.model(main).stream(prompt, _options(ctx, main)):
            if isinstance(item, str):
                answer.parts.append(item)
                ctx.emit(MessageDelta(text=item))
            else:
                answer.usage = item
    except ChinwagError as exc:
        ms = _ms_since(started)
        answer.flow_results.append(
            FlowResult("main", "failed", ms, usage=answer.usage, error_code=exc.code)
        )
        ctx.emit(FlowFailed(flow="main", ms=ms, code=exc.code, message=exc.message))
        raise
    ms = _ms_since(started)
    answer.flow_results.append(FlowResult("main", "completed", ms, usage=answer.usage))
    ctx.emit(FlowCompleted(flow="main", ms=ms, usage=answer.usage, rows=_counts(looked_up)))


def build_prompt(
    ctx: FlowContext,
    flow_name: str,
    flow_outputs: dict[str, dict[str, str]],
    sources: list[dict[str, Any]] | None = None,
    looked_up: dict[str, list[dict[str, str]]] | None = None,
) -> list[ChatMessage]:
    """The chat messages of one flow: its system prompt, the history, its rendered template.

    Tables in `looked_up` (table lookup) replace the whole table in `data.<name>`."""
    bot, message = ctx.bot, ctx.message
    flow = bot.flows[flow_name]
    assert flow.template is not None, "validation rejects flows without templates that run"
    tables = looked_up or {}
    variables = {
        "message": message.text,
        "norwegian": written_in_norwegian(message.text),
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


async def look_up(ctx: FlowContext, flow_name: str) -> dict[str, Lookup] | None:
    """The matching rows of the flow's looked-up tables (None: the flow looks nothing up)."""
    flow = ctx.bot.flows[flow_name]
    if ctx.tables is None or not flow.lookup:
        return None
    return await ctx.tables.lookup(
        ctx.bot,
        ctx.message.bot_version,
        flow_name,
        lambda name: table_rows(flow.data[name]),
        ctx.message.text,
    )


def _rows(looked_up: dict[str, Lookup] | None) -> dict[str, list[dict[str, str]]] | None:
    return {name: lookup.rows for name, lookup in looked_up.items()} if looked_up else None


def _counts(looked_up: dict[str, Lookup] | None) -> dict[str, int] | None:
    return {name: len(lookup.rows) for name, lookup in looked_up.items()} if looked_up else None


@lru_cache(maxsize=256)
def table_rows(text: str) -> tuple[dict[str, str], ...]:
    """A flow's CSV table as rows (parsed once per distinct text)."""
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


def _options(ctx: FlowContext, flow: FlowConfig, *, whole: bool = False) -> GenerationOptions:
    llm = flow.llm.over(ctx.bot.llm) if flow.llm else ctx.bot.llm
    return GenerationOptions(
        temperature=llm.temperature if llm else None,
        max_tokens=llm.max_tokens if llm else None,
        whole=whole,
    )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
