"""A visitor's answer to an action held for confirmation, and what deciding it gave; plain
data, shared by the engine and the store (chinwag.conversations.tool_actions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

DecisionKind = Literal["confirm", "cancel"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The visitor's answer to a held action, as their message carries it."""

    action_id: str
    decision: DecisionKind


@dataclass(frozen=True, slots=True)
class Decided:
    """An action after a decision: `won` when this message's decision is the one recorded
    (only then may it make the call); else the decision and status already there."""

    won: bool
    decision: DecisionKind
    status: str
    flow: str
    tool: str
    arguments: dict[str, Any]  # what to send (only when `won` and confirmed)
    shown: dict[str, Any]
    request: str  # the visitor's message that asked for it (its language, its words)


class Actions(Protocol):
    """Where held actions are kept (chinwag.conversations.tool_actions.ActionStore)."""

    async def hold(
        self,
        *,
        bot_id: str,
        message_id: str,
        flow: str,
        tool: str,
        arguments: dict[str, Any],
        shown: dict[str, Any],
        text: str,
        request: str,
    ) -> str: ...

    async def decide(
        self, *, bot_id: str, session_pk: str, message_id: str, decision: Decision
    ) -> Decided: ...

    async def finish(
        self, action_id: str, *, status: str, outcome: dict[str, Any] | None
    ) -> None: ...
