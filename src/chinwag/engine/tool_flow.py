"""An optional flow that calls its tool, with no LLM: arguments from the message and the end
user, `tool.started` / `tool.completed` events, and what the flow gives on.

A required argument that is missing makes the flow's output the question for it (the answer,
word for word); a failed call makes it the flow's stated failure text, so `main` tells the
visitor what happened instead of making something up."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from chinwag.config.bot import BotConfig
from chinwag.config.flow import FlowConfig
from chinwag.config.tools import DEFAULT_TOOL_CALLS_PER_MESSAGE, ToolLanguage
from chinwag.engine.confirmation import hold_for_confirmation
from chinwag.engine.context import FlowContext, FlowResult
from chinwag.engine.follow_up import memory_of, remembered
from chinwag.engine.policy import language_of
from chinwag.errors import ChinwagError, RateLimited
from chinwag.streams.events import ToolCompleted, ToolStarted
from chinwag.tools.arguments import find_arguments, redacted
from chinwag.tools.call import ToolOutcome
from chinwag.tools.errors import ToolCancelled, ToolLimitReached

DEFAULT_ASK: dict[ToolLanguage, str] = {
    "en": "Could you tell me the {argument}? Then I can look it up for you.",
    "nb": "Kan du oppgi {argument}? Da kan jeg slå det opp for deg.",
}
DEFAULT_SIGN_IN: dict[ToolLanguage, str] = {
    "en": "Please sign in first: I can only look up your own {argument}.",
    "nb": "Logg inn først: jeg kan bare slå opp {argument} for deg selv.",
}
DEFAULT_FAILED: dict[ToolLanguage, str] = {
    "en": "Sorry, I can't check that right now: the system that knows did not answer. "
    "Please try again in a little while.",
    "nb": "Beklager, jeg får ikke sjekket det akkurat nå: systemet som vet det, svarte ikke. "
    "Prøv igjen om litt.",
}


@dataclass(frozen=True, slots=True)
class ToolStep:
    """What a tool flow's call gave: the question to ask, or the call's outcome."""

    question: str | None = None
    outcome: ToolOutcome | None = None
    memory: dict[str, Any] | None = None  # what later turns keep of it (engine.follow_up)

    def variable(self) -> dict[str, Any]:
        """The flow's templates see this as `tool`."""
        o = self.outcome
        if o is None:
            return {"status": "missing", "result": None, "error": None}
        error = None if o.error is None else {"code": o.error.code, "message": o.error.message}
        return {
            "name": o.tool,
            "status": o.status,
            "result": o.result,
            "http_status": o.http_status,
            "arguments": o.arguments,
            "error": error,
        }

    def failed_text(self, ctx: FlowContext, flow: FlowConfig) -> str | None:
        """The flow's stated failure text when the call failed, in the message's language."""
        if self.outcome is None or self.outcome.status != "error":
            return None
        language = language_of(ctx.message.text)
        return flow.tool_failed.get(language) or DEFAULT_FAILED[language]


def failed_tool_call(bot: BotConfig, results: list[FlowResult]) -> FlowResult | None:
    """The first routed flow whose tool call failed and said so in the answer (a flow whose
    tool is optional goes on without it)."""
    for result in results:
        tool = result.tool
        if (
            tool is not None
            and tool["status"] == "error"
            and not bot.flows[result.flow].tool_optional
        ):
            return result
    return None


async def call_flow_tool(
    ctx: FlowContext, name: str, flow: FlowConfig, calls: list[ToolOutcome]
) -> ToolStep:
    """Find the flow's arguments and call its tool, or say which argument is missing.

    The call's outcome is also put in `calls` as it ends, even when the flow's own timeout
    (or the answer's end) cancels it: `tool.started` always gets its `tool.completed`."""
    assert flow.tool is not None, "only flows with a tool get here"
    tool = ctx.bot.all_tools[flow.tool]
    approved = ctx.approved.get(name)
    if approved is not None:  # the visitor confirmed these values: call with them
        return await _call(ctx, name, flow, approved, calls)
    found = find_arguments(
        tool,
        flow.arguments,
        message=ctx.message.text,
        user_id=ctx.message.user_id,
        remembered=remembered(ctx.bot, name, ctx.message.earlier),
    )
    if found.missing:
        if flow.tool_optional:
            return ToolStep()  # nothing to call with; the template goes on without it
        question = _question(ctx, flow, found.missing, found.missing_user)
        return ToolStep(question=question, memory=memory_of(ctx.bot, name, {}, found.missing))
    if tool.changes_something:
        return ToolStep(question=await hold_for_confirmation(ctx, name, flow.tool, found.values))
    step = await _call(ctx, name, flow, found.values, calls)
    return replace(step, memory=memory_of(ctx.bot, name, found.values, []))


async def _call(
    ctx: FlowContext, name: str, flow: FlowConfig, values: dict[str, Any], calls: list[ToolOutcome]
) -> ToolStep:
    assert flow.tool is not None
    arguments = redacted(ctx.bot.all_tools[flow.tool], values)
    ctx.emit(ToolStarted(flow=name, tool=flow.tool, arguments=arguments))
    started = time.perf_counter()
    try:
        refused = await over_limits(ctx)
        if refused is not None:
            outcome = ToolOutcome(flow.tool, arguments, "error", error=refused)
        else:
            outcome = await ctx.tools.call(ctx.bot, flow.tool, values)
    except asyncio.CancelledError:
        ms = round((time.perf_counter() - started) * 1000, 2)
        cancelled = ToolCancelled(
            f"tool '{flow.tool}' was stopped after {ms} ms: flow '{name}' ran out of its "
            f"{flow.timeout_seconds} s, or the answer ended"
        )
        stopped = ToolOutcome(flow.tool, arguments, "error", ms=ms, error=cancelled)
        _completed(ctx, name, stopped)
        calls.append(stopped)
        raise
    _completed(ctx, name, outcome)
    calls.append(outcome)
    return ToolStep(outcome=outcome)


async def over_limits(ctx: FlowContext) -> ChinwagError | None:
    """Why the bot's limits refuse a call now (a flow's, or main's by function calling): the
    answer's calls, the end user's per minute. Counts the call when it is allowed."""
    limits = ctx.bot.limits
    most = (limits.tool_calls_per_message if limits else None) or DEFAULT_TOOL_CALLS_PER_MESSAGE
    ctx.answer.calls_started += 1
    if ctx.answer.calls_started > most:
        return ToolLimitReached(f"this answer already made {most} tool calls, the bot's limit")
    if ctx.tool_gate is not None:
        try:
            await ctx.tool_gate(ctx.bot.id, ctx.message.user_id)
        except RateLimited as exc:
            return exc
    return None


def _completed(ctx: FlowContext, flow: str, outcome: ToolOutcome) -> None:
    ctx.emit(completed_event(flow, outcome))


def completed_event(
    flow: str, outcome: ToolOutcome, *, step: int | None = None, call_id: str | None = None
) -> ToolCompleted:
    """The `tool.completed` event of a call's outcome."""
    return ToolCompleted(
        flow=flow,
        tool=outcome.tool,
        status=outcome.status,
        ms=outcome.ms,
        http_status=outcome.http_status,
        bytes=outcome.bytes,
        attempts=outcome.attempts,
        arguments=outcome.arguments,
        code=outcome.code,
        message=outcome.error.message if outcome.error is not None else None,
        step=step,
        call_id=call_id,
    )


def _question(ctx: FlowContext, flow: FlowConfig, missing: list[str], sign_in: bool) -> str:
    """The question for the first missing argument; an anonymous visitor is asked to sign in
    first when the user's id is among them."""
    language = language_of(ctx.message.text)
    from_user = [n for n in missing if n in flow.arguments and flow.arguments[n].source == "user"]
    first = from_user[0] if sign_in and from_user else missing[0]
    source = flow.arguments.get(first)
    label = (source.label if source is not None else None) or first.replace("_", " ")
    if sign_in and from_user:
        text = DEFAULT_SIGN_IN[language]
    else:
        text = flow.ask.get(language) or DEFAULT_ASK[language]
    return text.replace("{argument}", label)
