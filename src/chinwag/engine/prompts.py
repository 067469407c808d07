"""A flow's prompt: its variables (the message, history, sources, other flows' outputs, its
tables or the rows looked up in them), rendered into chat messages, and its generation options."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from chinwag.config.llm import LLMConfig
from chinwag.engine.context import FlowContext
from chinwag.engine.tables import Lookup
from chinwag.engine.templates import render
from chinwag.norwegian import written_in_norwegian
from chinwag.providers.protocols import ChatMessage, GenerationOptions


def build_prompt(
    ctx: FlowContext,
    flow_name: str,
    flow_outputs: dict[str, dict[str, str]],
    sources: list[dict[str, Any]] | None = None,
    looked_up: dict[str, list[dict[str, str]]] | None = None,
    tool: dict[str, Any] | None = None,
) -> list[ChatMessage]:
    """The chat messages of one flow: its system prompt, the history, its rendered template.

    Tables in `looked_up` (table lookup) replace the whole table in `data.<name>`; `tool` is
    the flow's tool call (tool flows only)."""
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
        "tool": tool,
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


def looked_up_rows(looked_up: dict[str, Lookup] | None) -> dict[str, list[dict[str, str]]] | None:
    return {name: lookup.rows for name, lookup in looked_up.items()} if looked_up else None


def looked_up_counts(looked_up: dict[str, Lookup] | None) -> dict[str, int] | None:
    return {name: len(lookup.rows) for name, lookup in looked_up.items()} if looked_up else None


@lru_cache(maxsize=256)
def table_rows(text: str) -> tuple[dict[str, str], ...]:
    """A flow's CSV table as rows (parsed once per distinct text)."""
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


def options_for(llm: LLMConfig | None, *, whole: bool = False) -> GenerationOptions:
    """What a flow asks of its LLM, from its effective settings (FlowContext.llm)."""
    return GenerationOptions(
        temperature=llm.temperature if llm else None,
        max_tokens=llm.max_tokens if llm else None,
        whole=whole,
    )
