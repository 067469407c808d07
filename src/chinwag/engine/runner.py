"""Run one message through a bot: route, run the chosen flows in parallel, then stream `main`.

An optional flow that fails or times out emits `flow.failed` and the answer goes on without
it; `main` sees the outputs of the flows that succeeded as `flows.<name>.output`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from chinwag.config.bot import BotConfig
from chinwag.engine.confirmation import answer_decision
from chinwag.engine.context import FlowContext, FlowResult, emit_text, ms_since
from chinwag.engine.curated import CuratedLookup, CuratedMatch
from chinwag.engine.follow_up import answering_flows, kept_flows
from chinwag.engine.function_calling import stream_with_tools
from chinwag.engine.held_calls import ConfirmedCall
from chinwag.engine.judge import judge
from chinwag.engine.optional_flow import (
    NOTHING_RETRIEVED,
    Retrieval,
    retrieve,
    run_optional_flow,
    wants_retrieval,
)
from chinwag.engine.person_requests import HANDOFF_FLOW, learns_handoff
from chinwag.engine.policy import (
    Decline,
    decline_text,
    offer_text,
    offers_person,
    offers_person_after,
)
from chinwag.engine.prompts import (
    build_prompt,
    look_up,
    looked_up_counts,
    looked_up_rows,
    options_for,
)
from chinwag.engine.router import RouteDecision, Router
from chinwag.engine.scope import Scope
from chinwag.engine.tables import Lookup
from chinwag.engine.tool_flow import failed_tool_call
from chinwag.errors import ChinwagError
from chinwag.providers.protocols import ChatMessage
from chinwag.streams.events import (
    FlowCompleted,
    FlowFailed,
    FlowStarted,
    HandoffOffered,
    HandoffRequested,
    MessageDeclined,
    MessageDelta,
    RouteDecided,
    RouteError,
)


async def run_message(
    ctx: FlowContext,
    *,
    router: Router,
    curated: CuratedLookup | None = None,
    scope: Scope | None = None,
) -> None:
    """Answer from a matching curated answer, or route, run the chosen optional flows
    concurrently (and `main`'s retrieval with them), then stream `main` into `ctx.answer`.

    With a `grounded` answer policy (and `scope`), a message outside the bot's scope, or one
    that nothing the bot has supports, gets the bot's decline text instead of `main`."""
    bot, answer = ctx.bot, ctx.answer
    if ctx.message.decision is not None:  # Confirm or Cancel: no router, no flows but its own
        await answer_decision(ctx)
        return
    mode = bot.curated_answers.mode
    # The semantic router starts beside the curated match, so the embedder runs the message
    # once for both (the router's clauses are pooled from the message's pass, not its vector).
    early_route = (
        asyncio.create_task(_route(router, ctx)) if bot.router.strategy == "semantic" else None
    )
    grounded = scope is not None and bot.answer_policy.mode == "grounded"
    scoped = asyncio.create_task(_out_of_scope(scope, ctx)) if scope and grounded else None
    main_sources: asyncio.Task[Retrieval] | None = None
    try:
        if curated is not None and mode != "off":
            answer.curated = await curated(bot, ctx.message.text)
            answer.curated_mode = mode
        if early_route is not None and learns_handoff(bot):
            routed = await early_route  # a request for a person comes before anything else
            if routed.asks_person:
                await hand_to_person(ctx, routed)
                return
        if answer.curated is not None and mode == "answer":
            serve_curated(ctx, answer.curated)
            return
        if ctx.knowledge is not None and wants_retrieval("main", bot.flows["main"]):
            main_sources = asyncio.create_task(retrieve(ctx, "main"))
        if scoped is not None and answer.curated is None:
            outside = round(await scoped, 4)
            answer.policy_scores["out_of_scope"] = outside
            if outside >= bot.answer_policy.declines_at_once_from and not answering_flows(
                bot, ctx.message.earlier, ctx.message.text
            ):  # a reply to the bot's own question ("10023") is not declined
                serve_decline(ctx, Decline("out_of_scope", {"out_of_scope": outside}))
                return
        decision = keep_open_flows(ctx, await (early_route or _route(router, ctx)))
        answer.route = decision
        ctx.emit(route_event(decision))
        results = await asyncio.gather(
            *(run_optional_flow(ctx, name, decision.scores.get(name)) for name in decision.flows)
        )
        answer.flow_results.extend(results)
        asking = next((r for r in results if r.asks), None)
        if asking is not None and answer.curated is None:
            answer_verbatim(ctx, asking)  # a tool's argument is missing: ask for it
            return
        verbatim = verbatim_result(bot, results) if answer.curated is None else None
        if verbatim is not None:
            answer_verbatim(ctx, verbatim)
        else:
            outputs = {r.flow: {"output": r.output} for r in results if r.status == "completed"}
            await run_main_flow(ctx, outputs, main_sources, grounded=grounded)
        offer_person_if_failed(ctx, results)
    finally:
        for task in (early_route, scoped, main_sources):
            if task is not None and not task.done():
                task.cancel()


def keep_open_flows(ctx: FlowContext, decision: RouteDecision) -> RouteDecision:
    """The router's decision plus the tool flows the previous answer left open (a question
    for an argument this message gives, a follow-up word), in the bot's order."""
    kept = kept_flows(ctx.bot, ctx.message.earlier, ctx.message.text, decision.flows)
    if not kept:
        return decision
    ctx.answer.kept_flows = kept
    flows = [n for n in ctx.bot.optional_flows if n in decision.flows or n in kept]
    return replace(decision, flows=flows)


async def _route(router: Router, ctx: FlowContext) -> RouteDecision:
    return await router.route(ctx.bot, ctx.message.bot_version, ctx.message.text)


async def _out_of_scope(scope: Scope, ctx: FlowContext) -> float:
    return await scope.out_of_scope(ctx.bot, ctx.message.bot_version, ctx.message.text)


def serve_decline(ctx: FlowContext, decline: Decline) -> None:
    """The bot's decline text as the answer, in the message's language: no LLM call."""
    ctx.answer.declined = decline
    offer = "handoff" if offers_person(ctx.bot, decline.reason) else None
    ctx.emit(MessageDeclined(reason=decline.reason, scores=decline.scores, offer=offer))
    emit_text(ctx, decline_text(ctx.bot, decline.reason, ctx.message.text))


def offer_person_if_failed(ctx: FlowContext, results: list[FlowResult]) -> None:
    """End the answer with the bot's offer of a person, as an unanswerable decline does, when
    a tool call of it failed: a routed flow's, or one main made by function calling (not one
    it was refused). Never after a decline, nor after a question for a confirmation."""
    answer = ctx.answer
    asks = answer.confirmation is not None and answer.confirmation.get("asked")
    if answer.declined is not None or asks or not offers_person_after(ctx.bot):
        return
    failed = failed_tool_call(ctx.bot, results)
    if failed is not None and failed.tool is not None:
        offered = HandoffOffered(
            flow=failed.flow, tool=failed.tool["tool"], code=failed.tool["code"]
        )
    elif answer.failed_call is not None:
        call = answer.failed_call
        offered = HandoffOffered(flow="main", tool=call.tool, code=call.code)
    else:
        return
    ctx.emit(offered)
    emit_text(ctx, "\n\n" + offer_text(ctx.bot, ctx.message.text))


def serve_curated(ctx: FlowContext, match: CuratedMatch) -> None:
    """The curated text as the answer: its deltas, no router, no flows, no LLM call."""
    ctx.answer.sources = match.cited()
    emit_text(ctx, match.answer)


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
    emit_text(ctx, result.output)
    ms = ms_since(started)
    ctx.answer.flow_results.append(FlowResult("main", "completed", ms))
    ctx.emit(FlowCompleted(flow="main", ms=ms))


async def hand_to_person(ctx: FlowContext, decision: RouteDecision) -> None:
    """The learnt `handoff` flow chose the message: its session goes to the operators' queue
    and the answer says what happens next, as for the built-in phrases: no flow, no LLM."""
    if ctx.ask_person is None:
        raise ChinwagError("the message asks for a person, but there is no session to hand over")
    ctx.answer.route = decision
    ctx.emit(route_event(decision))
    asked = await ctx.ask_person()
    ctx.emit(HandoffRequested(state=asked.state, within_hours=asked.within_hours))
    emit_text(ctx, asked.reply)


def route_event(decision: RouteDecision) -> RouteDecided:
    error = decision.error
    return RouteDecided(
        flows=[HANDOFF_FLOW] if decision.asks_person else ["main", *decision.flows],
        scores=decision.scores,
        strategy=decision.strategy,
        ms=decision.ms,
        error=None if error is None else RouteError(code=error.code, message=error.message),
    )


async def run_main_flow(
    ctx: FlowContext,
    flow_outputs: dict[str, dict[str, str]],
    sources_task: asyncio.Task[Retrieval] | None = None,
    *,
    grounded: bool = False,
) -> None:
    """Stream the main flow's answer into `ctx.answer`, emitting flow and delta events; a
    curated answer (`prefer` mode) is part of its prompt. `grounded`: the bot's decline text
    instead when nothing supports an answer (`unanswerable`)."""
    answer = ctx.answer
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow="main"))
    looked_up: dict[str, Lookup] | None = None
    try:
        retrieval = await sources_task if sources_task is not None else NOTHING_RETRIEVED
        answer.sources = retrieval.cited
        looked_up = await look_up(ctx, "main")
        prompt = build_prompt(
            ctx, "main", flow_outputs, retrieval.variables, looked_up_rows(looked_up)
        )
        if answer.curated is not None:
            prompt.insert(-1, answer.curated.as_context())
        decline = await judge(ctx, retrieval.results, prompt) if grounded else None
        fallback = table_fallback(ctx) if decline and decline.reason == "unanswerable" else []
        if fallback:
            # The router chose nothing and nothing supports an answer: the bot's tables may.
            answer.fallback_flows = fallback
            ran = await asyncio.gather(*(run_optional_flow(ctx, name, None) for name in fallback))
            answer.flow_results.extend(ran)
            outputs = {r.flow: {"output": r.output} for r in ran if r.status == "completed"}
            flow_outputs = {**flow_outputs, **outputs}
            prompt = build_prompt(
                ctx, "main", flow_outputs, retrieval.variables, looked_up_rows(looked_up)
            )
            decline = await judge(ctx, retrieval.results, prompt)
        if decline is not None:
            serve_decline(ctx, decline)
            ms = ms_since(started)
            answer.flow_results.append(FlowResult("main", "completed", ms))
            ctx.emit(FlowCompleted(flow="main", ms=ms, rows=looked_up_counts(looked_up)))
            return
        await _stream_main(ctx, prompt)
    except ChinwagError as exc:
        _main_failed(ctx, started, exc)
        raise
    _main_completed(ctx, started, looked_up_counts(looked_up))


async def continue_main_flow(ctx: FlowContext, confirmed: ConfirmedCall) -> None:
    """main's model goes on from a call the visitor confirmed: the call is made, then the
    model answers from its result; a failed call offers a person."""
    started = time.perf_counter()
    ctx.emit(FlowStarted(flow="main"))
    try:
        await _stream_main(ctx, confirmed.held.messages, confirmed)
    except ChinwagError as exc:
        _main_failed(ctx, started, exc)
        raise
    _main_completed(ctx, started, None)
    offer_person_if_failed(ctx, [])


async def _stream_main(
    ctx: FlowContext, prompt: list[ChatMessage], confirmed: ConfirmedCall | None = None
) -> None:
    """main's LLM streams the answer into `ctx.answer`, calling tools when main has some."""
    main = ctx.bot.flows["main"]
    llm = ctx.llm(main)
    options = options_for(llm)
    if ctx.message.sampling is not None:
        options = ctx.message.sampling.within(options)
    model = ctx.model_for(llm)
    if main.tools or confirmed is not None:
        await stream_with_tools(ctx, model, prompt, options, confirmed)
        return
    async for item in model.stream(prompt, options):
        if isinstance(item, str):
            ctx.answer.parts.append(item)
            ctx.emit(MessageDelta(text=item))
        else:
            ctx.answer.usage = item


def _main_failed(ctx: FlowContext, started: float, exc: ChinwagError) -> None:
    answer = ctx.answer
    ms = ms_since(started)
    answer.flow_results.append(
        FlowResult(
            "main",
            "failed",
            ms,
            usage=answer.usage,
            error_code=exc.code,
            tool_calls=answer.tool_calls or None,
        )
    )
    ctx.emit(FlowFailed(flow="main", ms=ms, code=exc.code, message=exc.message))


def _main_completed(ctx: FlowContext, started: float, rows: dict[str, int] | None) -> None:
    answer = ctx.answer
    ms = ms_since(started)
    answer.flow_results.append(
        FlowResult(
            "main", "completed", ms, usage=answer.usage, tool_calls=answer.tool_calls or None
        )
    )
    ctx.emit(FlowCompleted(flow="main", ms=ms, usage=answer.usage, rows=rows))


def table_fallback(ctx: FlowContext) -> list[str]:
    """The optional flows with tables, when the router chose none: run before a grounded bot
    declines a message as unanswerable (a stock question the router missed)."""
    route = ctx.answer.route
    if route is None or route.flows or ctx.answer.fallback_flows:
        return []
    return [name for name, flow in ctx.bot.optional_flows.items() if flow.data]
