"""Calls that change something wait for the visitor: the flow asks what it will do (a
`tool.confirmation` event, the action held in the database), and the visitor's answer, a
message of its own naming the action, makes the call, or not. The decision is recorded once
(chinwag.conversations.tool_actions), so a retried, resumed or second tab's answer never
calls twice."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal

from chinwag.config.bot import BotConfig
from chinwag.config.tools import ToolLanguage
from chinwag.engine.context import FlowContext, emit_text
from chinwag.engine.policy import language_of
from chinwag.errors import ToolActionNotFound
from chinwag.streams.events import ToolConfirmation
from chinwag.tools.arguments import redacted

DEFAULT_QUESTION: dict[ToolLanguage, str] = {
    "en": "Shall I go ahead with {tool}? Please confirm.",
    "nb": "Skal jeg gå videre med {tool}? Bekreft, er du snill.",
}
DEFAULT_CANCELLED: dict[ToolLanguage, str] = {
    "en": "All right, I have not done it.",
    "nb": "Greit, jeg har ikke gjort det.",
}
ALREADY: dict[str, dict[ToolLanguage, str]] = {
    "cancelled": {"en": "That was already cancelled: nothing was done.",
                  "nb": "Det ble allerede avbrutt: ingenting ble gjort."},
    "confirmed": {"en": "That is already being done.", "nb": "Det er allerede i gang."},
    "done": {"en": "That is already done.", "nb": "Det er allerede gjort."},
    "failed": {"en": "That was already tried, and it did not go through.",
               "nb": "Det ble allerede forsøkt, og det gikk ikke."},
}  # fmt: skip
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


async def hold_for_confirmation(
    ctx: FlowContext,
    flow: str,
    tool: str,
    values: dict[str, Any],
    *,
    kept: dict[str, Any] | None = None,
) -> str:
    """The question that says what will be done; the action waits in the database with
    `kept` (what deciding it needs; by default the values to send). With no store (outside a
    server) nothing is held and the question is all there is."""
    shown = redacted(ctx.bot.all_tools[tool], values)
    language = language_of(ctx.message.text)
    template = own_words(ctx.bot, flow, tool, "confirm_question", language)
    named = {"tool": tool, **shown}
    text = PLACEHOLDER.sub(
        lambda m: str(named.get(m[1], m[0])), template or DEFAULT_QUESTION[language]
    )
    if ctx.actions is not None:
        action_id = await ctx.actions.hold(
            bot_id=ctx.bot.id,
            message_id=ctx.message.message_id,
            flow=flow,
            tool=tool,
            arguments=values if kept is None else kept,
            shown=shown,
            text=text,
            request=ctx.message.text,
        )
        ctx.answer.confirmation = {"action_id": action_id, "asked": True}
        ctx.emit(
            ToolConfirmation(action_id=action_id, flow=flow, tool=tool, arguments=shown, text=text)
        )
    return text


def own_words(
    bot: BotConfig,
    flow: str,
    tool: str,
    wording: Literal["confirm_question", "confirm_cancelled"],
    language: ToolLanguage,
) -> str | None:
    """The bot's words for a confirmation of `tool`: the flow's own; for main's function
    calls, those of a routed flow that calls the same tool, else main's own."""
    flows = [f for f in bot.optional_flows.values() if f.tool == tool] if flow == "main" else []
    own = bot.flows.get(flow)
    for config in [*flows, *([own] if own is not None else [])]:
        said = getattr(config, wording).get(language)
        if said:
            return str(said)
    return None


async def answer_decision(ctx: FlowContext) -> None:
    """Answer the visitor's Confirm or Cancel: the call (only for the first decision of the
    action), the flow's cancelled text, or what an earlier decision did."""
    # Imported here: the runner calls this module (a flow's tool step asks through it, and
    # main's held calls do).
    from chinwag.engine.held_calls import ConfirmedCall, HeldCall
    from chinwag.engine.optional_flow import run_optional_flow
    from chinwag.engine.runner import answer_verbatim, continue_main_flow
    from chinwag.engine.tool_flow import DEFAULT_FAILED

    decision = ctx.message.decision
    assert decision is not None
    if ctx.actions is None:
        raise ToolActionNotFound("this server holds no actions to confirm")
    decided = await ctx.actions.decide(
        bot_id=ctx.bot.id,
        session_pk=ctx.message.session_pk,
        message_id=ctx.message.user_message_id,
        decision=decision,
    )
    ctx.answer.confirmation = {
        "action_id": decision.action_id,
        "decision": decision.decision,
        "first": decided.won,
    }
    # In the words and language of the message that asked for it ("Kanseller ordre 10023").
    asked = replace(ctx, message=replace(ctx.message, text=decided.request))
    language = language_of(decided.request)
    if not decided.won:
        emit_text(ctx, ALREADY[decided.status][language] if decided.status in ALREADY else "")
        return
    if decided.decision == "cancel":
        said = own_words(ctx.bot, decided.flow, decided.tool, "confirm_cancelled", language)
        emit_text(ctx, said or DEFAULT_CANCELLED[language])
        return
    if decided.flow == "main":  # main's model asked for it: it goes on from the call's result
        held = HeldCall.from_record(decided.arguments)
        await continue_main_flow(asked, ConfirmedCall(decision.action_id, held))
        return
    flow = ctx.bot.flows.get(decided.flow)
    if flow is None or flow.tool != decided.tool:  # the bot changed since it asked
        await ctx.actions.finish(decision.action_id, status="failed", outcome=None)
        emit_text(ctx, ALREADY["failed"][language])
        return
    asked.approved[decided.flow] = decided.arguments
    result = await run_optional_flow(asked, decided.flow, None)
    ctx.answer.flow_results.append(result)
    called = result.tool is not None and result.tool["status"] == "completed"
    status = "done" if called else "failed"
    await ctx.actions.finish(decision.action_id, status=status, outcome=result.tool)
    if result.status != "completed" or not result.output:
        result = replace(result, output=flow.tool_failed.get(language) or DEFAULT_FAILED[language])
    answer_verbatim(ctx, result)
