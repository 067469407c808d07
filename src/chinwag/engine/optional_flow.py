"""An optional flow for one message, run whole before `main`: its tool call (engine.tool_flow),
its retrieval and table lookups, and its template, written by its LLM or given as rendered. It
never fails the answer: a failure or a timeout is a `flow.failed` event and a failed result."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from chinwag.config.flow import FlowConfig
from chinwag.engine.context import FlowContext, FlowResult, ms_since
from chinwag.engine.prompts import (
    build_prompt,
    look_up,
    looked_up_counts,
    looked_up_rows,
    options_for,
)
from chinwag.engine.tables import Lookup
from chinwag.engine.tool_flow import ToolStep, call_flow_tool
from chinwag.errors import ChinwagError, FlowTimeout
from chinwag.knowledge.search import SearchResult
from chinwag.providers.protocols import ChatMessage, Usage
from chinwag.streams.events import (
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    RetrievalCompleted,
    Source,
)
from chinwag.tools.call import ToolOutcome


def wants_retrieval(name: str, flow: FlowConfig) -> bool:
    """Whether a flow searches the knowledge index: its `retrieval`, by default `main` only."""
    return flow.retrieval if flow.retrieval is not None else name == "main"


@dataclass(frozen=True, slots=True)
class Retrieval:
    """One search's results: as cited (events, the message) and as the templates see them."""

    cited: list[Source]
    variables: list[dict[str, Any]]
    results: list[SearchResult]


NOTHING_RETRIEVED = Retrieval([], [], [])


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
    return Retrieval(cited, variables, results)


async def run_optional_flow(ctx: FlowContext, name: str, score: float | None) -> FlowResult:
    """Run one optional flow to its whole output, within its timeout; never raises."""
    flow = ctx.bot.flows[name]
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow=name))
    parts: list[str] = []
    usage: Usage | None = None
    looked_up: dict[str, Lookup] | None = None
    step: ToolStep | None = None
    calls: list[ToolOutcome] = []  # its tool call, kept even when the flow times out in it
    try:
        async with asyncio.timeout(flow.timeout_seconds):
            step = await call_flow_tool(ctx, name, flow, calls) if flow.tool else None
            said = _tool_said(ctx, flow, step)
            if said is not None:
                parts.append(said)
            else:
                retrieval = await retrieve(ctx, name)
                looked_up = await look_up(ctx, name)
                tool = step.variable() if step is not None else None
                prompt = build_prompt(
                    ctx, name, {}, retrieval.variables, looked_up_rows(looked_up), tool
                )
                usage = await _write(ctx, flow, prompt, parts)
    except (ChinwagError, TimeoutError) as exc:
        error = (
            exc
            if isinstance(exc, ChinwagError)
            else FlowTimeout(f"flow '{name}' took longer than {flow.timeout_seconds} s")
        )
        ms = ms_since(started)
        ctx.emit(FlowFailed(flow=name, ms=ms, code=error.code, message=error.message))
        return FlowResult(name, "failed", ms, score, usage, error.code, tool=_tool_record(calls))
    ms = ms_since(started)
    ctx.emit(FlowCompleted(flow=name, ms=ms, usage=usage, rows=looked_up_counts(looked_up)))
    selected = all(lookup.selected for lookup in (looked_up or {}).values())
    output = "".join(parts).strip()
    return FlowResult(
        name,
        "completed",
        ms,
        score,
        usage,
        output=output,
        rows_selected=selected,
        asks=step is not None and step.question is not None,
        tool=_tool_record(calls),
        memory=step.memory if step is not None else None,
    )


async def _write(
    ctx: FlowContext, flow: FlowConfig, prompt: list[ChatMessage], parts: list[str]
) -> Usage | None:
    """An optional flow's output into `parts`: its rendered template (`generate: false`), or
    its LLM's whole reply; the LLM's usage."""
    if not flow.generate:
        parts.append(prompt[-1].content)
        return None
    usage: Usage | None = None
    llm = ctx.llm(flow)
    options = options_for(llm, whole=True)  # main reads it whole
    async for item in ctx.model_for(llm).stream(prompt, options):
        if isinstance(item, str):
            parts.append(item)
        else:
            usage = item
    return usage


def _tool_said(ctx: FlowContext, flow: FlowConfig, step: ToolStep | None) -> str | None:
    """A tool flow's own words instead of its template: the question for a missing argument,
    or its failure text when the call failed."""
    if step is None:
        return None
    if step.question is not None:
        return step.question
    return None if flow.tool_optional else step.failed_text(ctx, flow)


def _tool_record(calls: list[ToolOutcome]) -> dict[str, Any] | None:
    return calls[-1].record() if calls else None
