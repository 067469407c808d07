"""`main` calls the bot's tools by LLM function calling, and chinwag runs the loop.

Each turn the model streams text and may ask for calls; every call of a turn runs in parallel,
each within `call_timeout_seconds` and all of the answer's within `budget_seconds`; the results
(or a stated error) go back to the model, which goes on. After `max_steps` turns with calls,
or once the budget is spent, the model gets one more turn with tools off to answer.

A call is made only when its tool is offered (`flows.main.tools`) and its arguments are a JSON
object that matches the tool's schema; otherwise the model is told why, and nothing is sent. A
call that changes something is not made but held for the visitor's confirmation, and the answer
ends with the question (engine.held_calls); the visitor's Confirm makes it and the model goes
on from its result."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from chinwag.config.tools import FunctionCalling, Tool
from chinwag.engine.context import FlowContext
from chinwag.engine.held_calls import ConfirmedCall, HeldCall, finish_confirmed, hold_call
from chinwag.engine.tool_flow import completed_event, over_limits
from chinwag.errors import ChinwagError, LLMNoFunctionCalling
from chinwag.providers.protocols import (
    ChatMessage,
    ChatModel,
    GenerationOptions,
    ToolCall,
    ToolCallingModel,
    Usage,
)
from chinwag.streams.events import MessageDelta, ToolStarted
from chinwag.tools.arguments import check_arguments, redacted
from chinwag.tools.call import ToolOutcome
from chinwag.tools.errors import (
    ToolArgumentsInvalid,
    ToolBudgetExhausted,
    ToolCallsExhausted,
    ToolCancelled,
    ToolError,
    ToolNeedsConfirmation,
    ToolNotOffered,
    ToolStepsExhausted,
    ToolTimeout,
)

NAME_SHOWN = 64  # a name or call id the model made up is shown cut to this length
# The `tool` of events, records and metrics for a name that is none of the bot's tools: what a
# model writes (or a visitor talks it into) never becomes a metric's label.
UNKNOWN_TOOL = "(unknown)"


def function_specs(offered: list[str], tools: dict[str, Tool]) -> list[dict[str, Any]]:
    """The OpenAI `tools` of main: each offered tool's name, description and schema."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": tools[name].about or f"The {name} tool.",
                "parameters": _plain(tools[name].argument_schema),
            },
        }
        for name in offered
    ]


def _plain(schema: Any) -> Any:
    """The schema without chinwag's own `x-` keywords (`x-secret`), which servers may refuse."""
    if isinstance(schema, dict):
        return {k: _plain(v) for k, v in schema.items() if not str(k).startswith("x-")}
    if isinstance(schema, list):
        return [_plain(v) for v in schema]
    return schema


@dataclass(slots=True)
class _Loop:
    """One answer's function calling: its limits and what was spent of them."""

    ctx: FlowContext
    limits: FunctionCalling
    offered: frozenset[str]
    spent_seconds: float = 0.0
    calls: int = 0
    # The first call of a turn that changes something, with its values: held, not made.
    held: tuple[ToolCall, dict[str, Any]] | None = None

    @property
    def budget_left(self) -> float:
        return self.limits.budget_seconds - self.spent_seconds


async def stream_with_tools(
    ctx: FlowContext,
    model: ChatModel,
    prompt: list[ChatMessage],
    options: GenerationOptions,
    confirmed: ConfirmedCall | None = None,
) -> None:
    """Stream main's answer into `ctx.answer`, making the calls its model asks for; every call
    is a `tool.started` / `tool.completed` pair and a record in `ctx.answer.tool_calls`.
    `confirmed`: the answer goes on from a held call the visitor confirmed (`prompt` is the
    conversation it was held in), made first."""
    main = ctx.bot.flows["main"]
    if not isinstance(model, ToolCallingModel):
        raise LLMNoFunctionCalling(
            f"flows.main.tools lists {', '.join(main.tools)}, but main's LLM ({model.name}) "
            "cannot call tools"
        )
    loop = _Loop(ctx, main.tool_loop, frozenset(main.tools))
    specs = function_specs(main.tools, ctx.bot.all_tools)
    messages = list(prompt)
    first = 1
    if confirmed is not None:
        messages.append(await _make_confirmed(loop, confirmed))
        first = confirmed.held.step + 1
    for step in range(first, loop.limits.max_steps + 2):
        final = step > loop.limits.max_steps or loop.budget_left <= 0
        text, calls = await _turn(ctx, model, messages, options, specs, final)
        if not calls:
            return
        if final:
            _refuse_all(loop, step, calls)
            return
        messages.append(ChatMessage("assistant", text, tool_calls=tuple(calls)))
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(_call(loop, step, call) for call in calls))
        loop.spent_seconds += time.perf_counter() - started
        messages += [
            ChatMessage("tool", _told(outcome), tool_call_id=call.id)
            for call, outcome in zip(calls, outcomes, strict=True)
            if outcome is not None
        ]
        if loop.held is not None:  # the answer ends with the question; a Confirm goes on
            call, values = loop.held
            await hold_call(ctx, HeldCall(step, call, messages), values)
            return


async def _make_confirmed(loop: _Loop, confirmed: ConfirmedCall) -> ChatMessage:
    """Make the call the visitor confirmed (checked again: the bot may have changed), record
    it on its action; what the model is told of it."""
    call = confirmed.held.call
    outcome = await _call(loop, confirmed.held.step, call, confirmed=True)
    assert outcome is not None, "a confirmed call is made, not held"
    await finish_confirmed(loop.ctx, confirmed, outcome)
    return ChatMessage("tool", _told(outcome), tool_call_id=call.id)


async def _turn(
    ctx: FlowContext,
    model: ToolCallingModel,
    messages: list[ChatMessage],
    options: GenerationOptions,
    specs: list[dict[str, Any]],
    final: bool,
) -> tuple[str, list[ToolCall]]:
    """One model turn: its text streamed as the answer's deltas; the calls it asks for. The
    answer's usage adds up every turn's."""
    parts: list[str] = []
    calls: list[ToolCall] = []
    used: list[Usage] = [ctx.answer.usage] if ctx.answer.usage is not None else []
    async for item in model.stream_tools(
        messages, options, specs, choice="none" if final else "auto"
    ):
        if isinstance(item, str):
            parts.append(item)
            ctx.answer.parts.append(item)
            ctx.emit(MessageDelta(text=item))
        elif isinstance(item, ToolCall):
            calls.append(item)
        else:
            used.append(item)
    if used:
        ctx.answer.usage = Usage.of(
            sum(u.prompt_tokens for u in used), sum(u.completion_tokens for u in used)
        )
    return "".join(parts), calls


def _refuse_all(loop: _Loop, step: int, calls: list[ToolCall]) -> None:
    """Calls asked for on the turn that was to answer: recorded as refused, none made; with
    no text either, main fails (the visitor is told, not left with nothing)."""
    limits = loop.limits
    for call in calls:
        error = ToolStepsExhausted(
            f"the model asked for '{_shown(call.name)}' after {limits.max_steps} turns of calls "
            "and a turn to answer; it was not called"
        )
        _emit_refused(loop.ctx, step, call, {}, error)
    if not loop.ctx.answer.text.strip():
        raise ToolStepsExhausted(
            f"main's model kept asking for tools after {limits.max_steps} turns of calls and "
            "gave no answer"
        )


async def _call(
    loop: _Loop, step: int, call: ToolCall, *, confirmed: bool = False
) -> ToolOutcome | None:
    """Make one call the model asked for, or say why not; None when it is held for the
    visitor's confirmation (`confirmed`: the visitor confirmed it; it is made).

    Everything up to the first `await` runs in the order of the turn's calls, so the first
    call that changes something is the one held, and `max_calls` counts in that order."""
    ctx = loop.ctx
    tool = ctx.bot.all_tools.get(call.name) if call.name in loop.offered else None
    values, unreadable = _values(call)
    arguments = redacted(tool, values) if tool is not None else {}
    refusal = _refusal(loop, call, tool, values, unreadable)
    if refusal is None and tool is not None and tool.changes_something and not confirmed:
        if loop.held is None:
            loop.held = (call, values)
            return None
        refusal = ToolNeedsConfirmation(
            f"tool '{_shown(call.name)}' changes something and waits for the visitor's "
            "confirmation, and another call of this turn already does: it was not called. "
            "Ask for it again once that one is answered"
        )
    if refusal is not None:
        return _emit_refused(ctx, step, call, arguments, refusal)
    assert tool is not None
    loop.calls += 1
    ctx.emit(
        ToolStarted(
            flow="main", tool=call.name, arguments=arguments, step=step, call_id=_shown(call.id)
        )
    )
    started = time.perf_counter()
    limited = await over_limits(ctx)  # the bot's limits: per answer, per end user
    if limited is not None:
        outcome = ToolOutcome(call.name, arguments, "error", error=limited)
        return _made(ctx, step, call, outcome, started)
    limit = min(loop.limits.call_timeout_seconds, loop.budget_left)
    try:
        async with asyncio.timeout(limit):
            outcome = await ctx.tools.call(ctx.bot, call.name, values)
    except TimeoutError:
        outcome = ToolOutcome(call.name, arguments, "error", error=_timed_out(loop, call, limit))
    except asyncio.CancelledError:
        stopped = ToolCancelled(f"tool '{call.name}' was stopped: the answer ended")
        outcome = ToolOutcome(call.name, arguments, "error", error=stopped)
        _completed(ctx, step, call, outcome, started)
        raise
    return _made(ctx, step, call, outcome, started)


def _made(
    ctx: FlowContext, step: int, call: ToolCall, outcome: ToolOutcome, started: float
) -> ToolOutcome:
    """A call that was made (or that the bot's limits stopped): the answer's first failure
    offers the visitor a person once it is complete."""
    _completed(ctx, step, call, outcome, started)
    if outcome.error is not None and ctx.answer.failed_call is None:
        ctx.answer.failed_call = outcome
    return outcome


def _told(outcome: ToolOutcome) -> str:
    """What the model is told of a call: its result, or the stated error."""
    if outcome.error is not None:
        return _said(outcome.error)
    return orjson.dumps({"result": outcome.result}, option=orjson.OPT_NON_STR_KEYS).decode()


def _values(call: ToolCall) -> tuple[dict[str, Any], str | None]:
    """The call's arguments as a JSON object, or why they are not one."""
    try:
        values = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError as exc:
        return {}, f"not JSON ({exc})"
    if not isinstance(values, dict):
        return {}, f"a JSON {type(values).__name__}, not an object"
    return values, None


def _refusal(
    loop: _Loop,
    call: ToolCall,
    tool: Tool | None,
    values: dict[str, Any],
    unreadable: str | None,
) -> ToolError | None:
    """Why the call is not made, or None; arguments that do not match do not count as calls."""
    name = _shown(call.name)
    if tool is None:
        return ToolNotOffered(
            f"there is no tool '{name}' to call; the tools are: {', '.join(sorted(loop.offered))}"
        )
    if unreadable is not None:
        return ToolArgumentsInvalid(f"tool '{name}': the arguments are {unreadable}")
    try:
        check_arguments(name, tool, values)
    except ToolArgumentsInvalid as exc:
        return exc
    if loop.calls >= loop.limits.max_calls:
        return ToolCallsExhausted(
            f"tool '{name}' was not called: this answer made its {loop.limits.max_calls} calls"
        )
    if loop.budget_left <= 0:
        return ToolBudgetExhausted(
            f"tool '{name}' was not called: the calls of this answer used their "
            f"{loop.limits.budget_seconds:g} s"
        )
    return None


def _timed_out(loop: _Loop, call: ToolCall, limit: float) -> ToolError:
    if limit < loop.limits.call_timeout_seconds:
        return ToolBudgetExhausted(
            f"tool '{call.name}' was stopped after {limit:.2f} s: the calls of this answer used "
            f"their {loop.limits.budget_seconds:g} s"
        )
    return ToolTimeout(
        f"tool '{call.name}' did not finish within {limit:g} s "
        "(function_calling.call_timeout_seconds)"
    )


def _emit_refused(
    ctx: FlowContext, step: int, call: ToolCall, arguments: dict[str, Any], error: ToolError
) -> ToolOutcome:
    name = call.name if call.name in ctx.bot.all_tools else UNKNOWN_TOOL
    call_id = _shown(call.id)
    ctx.emit(ToolStarted(flow="main", tool=name, arguments=arguments, step=step, call_id=call_id))
    outcome = ToolOutcome(name, arguments, "error", error=error)
    _completed(ctx, step, call, outcome, time.perf_counter())
    return outcome


def _completed(
    ctx: FlowContext, step: int, call: ToolCall, outcome: ToolOutcome, started: float
) -> None:
    outcome.ms = max(outcome.ms, round((time.perf_counter() - started) * 1000, 2))
    call_id = _shown(call.id)
    ctx.emit(completed_event("main", outcome, step=step, call_id=call_id))
    ctx.answer.tool_calls.append({**outcome.record(), "step": step, "call_id": call_id})


def _said(error: ChinwagError) -> str:
    """What the model is told of a call that gave no result: the code, what happened, what
    to do."""
    said = {"error": {"code": error.code, "message": error.message, "hint": error.hint}}
    return orjson.dumps(said).decode()


def _shown(name: str) -> str:
    return name[:NAME_SHOWN]
