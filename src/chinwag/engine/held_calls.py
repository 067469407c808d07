"""`main`'s function calls that change something wait for the visitor as a routed flow's do
(engine.confirmation): the call is held with the conversation its model was in, the answer ends
with the question, and the visitor's Confirm makes the call once and lets the model go on from
its result.

One action waits at a time: when the model asks for several calls that change something in
one turn, the first is held and the others are refused (`tool_needs_confirmation`); the model
sees that once the first is decided, and may ask again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chinwag.engine.confirmation import hold_for_confirmation
from chinwag.engine.context import FlowContext, emit_text
from chinwag.providers.llm.wire import unwire_message, wire_message
from chinwag.providers.protocols import ChatMessage, ToolCall
from chinwag.tools.call import ToolOutcome


@dataclass(frozen=True, slots=True)
class HeldCall:
    """A call main's model asked for and the visitor must confirm: the turn (`step`) it was
    asked in, and the conversation up to it (the turn that asked, the other calls' results)."""

    step: int
    call: ToolCall
    messages: list[ChatMessage]

    def record(self) -> dict[str, Any]:
        """What the action keeps until it is decided (tool_actions.arguments): the messages in
        the chat-completions wire format (providers.llm.wire), the held call as one entry of
        an assistant turn's `tool_calls`."""
        call = ChatMessage("assistant", "", tool_calls=(self.call,))
        return {
            "step": self.step,
            "call": wire_message(call)["tool_calls"][0],
            "messages": [wire_message(m) for m in self.messages],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> HeldCall:
        call = unwire_message({"role": "assistant", "content": "", "tool_calls": [record["call"]]})
        messages = [unwire_message(m) for m in record["messages"]]
        return cls(int(record["step"]), call.tool_calls[0], messages)


@dataclass(frozen=True, slots=True)
class ConfirmedCall:
    """A held call the visitor's message confirmed first: it is made, once."""

    action_id: str
    held: HeldCall


async def hold_call(ctx: FlowContext, held: HeldCall, values: dict[str, Any]) -> None:
    """Hold the call and end the answer with the question: the model's text so far, then what
    will be done, in the bot's words."""
    question = await hold_for_confirmation(ctx, "main", held.call.name, values, kept=held.record())
    emit_text(ctx, ("\n\n" if ctx.answer.text.strip() else "") + question)


async def finish_confirmed(
    ctx: FlowContext, confirmed: ConfirmedCall, outcome: ToolOutcome
) -> None:
    """The confirmed call's end, on its action: `done` or `failed`, with its record."""
    if ctx.actions is not None:
        status = "done" if outcome.status == "completed" else "failed"
        await ctx.actions.finish(confirmed.action_id, status=status, outcome=outcome.record())
