"""Validation of `flows.main.tools` (function calling), on the raw document: only on `main`,
tools the bot has, and an LLM that can call tools. A tool that changes something may be
offered: its calls wait for the visitor's confirmation (engine.held_calls)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem

_DOCS = "See docs/tools.md."


def function_calling_problems(
    document: dict[str, Any], name: str, flow: dict[str, Any], tools: dict[str, Any]
) -> list[Problem]:
    """`tools` (function calling): only on main, each a tool of the bot that the model may
    call, and an LLM that can call tools."""
    from chinwag.bots.validation import Problem

    offered = flow.get("tools")
    if not offered or not isinstance(offered, list):
        return []
    where = f"flows.{name}.tools"
    if name != "main":
        return [
            Problem(
                where,
                "tools_only_on_main",
                f"{where}: only main calls tools by function calling",
                "Move the list to flows.main.tools, or give this flow one `tool` to call "
                "with no LLM. " + _DOCS,
            )
        ]
    problems: list[Problem] = []
    for i, tool_name in enumerate(offered):
        tool = tools.get(tool_name) if isinstance(tool_name, str) else None
        if not isinstance(tool, dict):
            problems.append(
                Problem(
                    f"{where}.{i}",
                    "tool_unknown",
                    f"{where} names '{tool_name}', which is not one of the bot's tools",
                    "Declare it under `tools:`, or use one of: "
                    f"{', '.join(map(str, tools)) or 'none'}.",
                )
            )
    if _llm_provider(document, flow) == "local":
        problems.append(
            Problem(
                where,
                "llm_no_function_calling",
                f"{where}: main's LLM is the embedded local model, which cannot call tools",
                "Give main (or the bot) an OpenAI-compatible `llm`, or call the tools from "
                "routed flows, which need no LLM. " + _DOCS,
            )
        )
    return problems


def _llm_provider(document: dict[str, Any], flow: dict[str, Any]) -> Any:
    """The provider main's LLM settings name (its own over the bot's), if any."""
    for llm in (flow.get("llm"), document.get("llm")):
        if isinstance(llm, dict) and llm.get("provider") is not None:
            return llm["provider"]
    return None
