"""Tool flows across turns, with no LLM.

- A flow that asked for a missing argument is kept for the next message when that message gives
  it ("Where is my order?" … "10023"), whatever the router says.
- A flow that called its tool is kept for the next message when it says one of the flow's
  `follow_up` words ("… and when will it arrive?") and the router chose no flow for it.
- The values a tool flow found in the visitor's messages are remembered with the answer (its
  route record, `tools`), so a later turn that leaves one out reuses it.

Only arguments from the message are remembered: the end user's id is taken afresh each turn
from the verified identity, and a secret argument (`x-secret`) is never kept."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from chinwag.config.bot import BotConfig
from chinwag.tools.arguments import find_arguments, secret_fields

MEMORY_KEY = "tools"  # in an assistant message's route record


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the session's earlier answers remember of their tool flows."""

    # The previous answer's tool flows: flow -> {"asked": [...]} or {"arguments": {...}}.
    last: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # Per flow, the latest value of each argument found in an earlier turn (oldest overwritten).
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_routes(cls, routes: Sequence[Mapping[str, Any] | None]) -> Earlier:
        """From the route records of the session's earlier answers, oldest first."""
        values: dict[str, dict[str, Any]] = {}
        for route in routes:
            for flow, held in _memory(route).items():
                values.setdefault(flow, {}).update(held.get("arguments") or {})
        return cls(last=_memory(routes[-1]) if routes else {}, values=values)


def _memory(route: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    found = route.get(MEMORY_KEY) if isinstance(route, Mapping) else None
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, dict)}


def kept_flows(bot: BotConfig, earlier: Earlier, message: str, chosen: Sequence[str]) -> list[str]:
    """The tool flows the previous answer leaves open for this message, beyond `chosen`."""
    kept = []
    for name, held in earlier.last.items():
        flow = bot.optional_flows.get(name)
        if flow is None or flow.tool is None or name in chosen:
            continue
        asked = [a for a in held.get("asked") or [] if isinstance(a, str)]
        if asked:
            tool = bot.all_tools[flow.tool]
            found = find_arguments(tool, flow.arguments, message=message, user_id=None)
            if any(a in found.values for a in asked):
                kept.append(name)
        elif (
            held.get("arguments") is not None
            and not chosen
            and flow.follow_up
            and _words(tuple(flow.follow_up)).search(message)
        ):
            kept.append(name)
    return kept


def answering_flows(bot: BotConfig, earlier: Earlier, message: str) -> bool:
    """Whether this message gives an argument the previous answer asked for (it is then no
    message to decline as out of scope: "10023" is an answer, not a question)."""
    return any(
        held.get("asked") and name in kept_flows(bot, earlier, message, [])
        for name, held in earlier.last.items()
    )


def remembered(bot: BotConfig, flow_name: str, earlier: Earlier) -> dict[str, Any]:
    """The values an earlier turn found for `flow_name`'s arguments from the message."""
    flow = bot.flows[flow_name]
    sources = flow.arguments
    held = earlier.values.get(flow_name, {})
    return {
        k: v
        for k, v in held.items()
        if k in sources and sources[k].source == "message" and v is not None
    }


def memory_of(
    bot: BotConfig, flow_name: str, found: Mapping[str, Any], asked: Sequence[str]
) -> dict[str, Any]:
    """What an answer remembers of one tool flow: what it asked for, or the values it used
    that came from the visitor's messages (never the user's id, never a secret field)."""
    if asked:
        return {"asked": list(asked)}
    flow = bot.flows[flow_name]
    assert flow.tool is not None
    secret = secret_fields(bot.all_tools[flow.tool])
    kept = {
        k: v
        for k, v in found.items()
        if k in flow.arguments and flow.arguments[k].source == "message" and k not in secret
    }
    return {"arguments": kept}


@lru_cache(maxsize=256)
def _words(words: tuple[str, ...]) -> re.Pattern[str]:
    """Each word at a word's start (`arrive` finds "arrives"), case aside."""
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")", re.IGNORECASE)
