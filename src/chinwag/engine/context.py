"""What the engine works with for one message: the message, its flows' results, the answer as
it grows, and the context every flow of it shares."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag.config.bot import BotConfig
from chinwag.config.flow import FlowConfig
from chinwag.config.llm import LLMConfig, effective_llm
from chinwag.engine.curated import CuratedMatch, CuratedMode, answer_pieces
from chinwag.engine.follow_up import MEMORY_KEY, Earlier
from chinwag.engine.policy import Decline
from chinwag.engine.router import RouteDecision
from chinwag.engine.tables import TableLookups
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.protocols import ChatModel, Sampling, Usage
from chinwag.streams.events import MessageDelta, Source
from chinwag.streams.events import StreamEvent as Event
from chinwag.tools.call import ToolCaller, ToolOutcome
from chinwag.tools.decisions import Actions, Decision

if TYPE_CHECKING:
    from chinwag.handoff.visitor import PersonAsked

Emit = Callable[[Event], object]
ModelFor = Callable[[LLMConfig | None], ChatModel]
# Puts the message's session in the operators' queue: what the visitor is told, and the state.
AskPerson = Callable[[], Awaitable["PersonAsked"]]


@dataclass(frozen=True, slots=True)
class MessageInput:
    """What the engine knows about one incoming message."""

    text: str
    history: Sequence[tuple[str, str]]  # (role, content), oldest first
    user_id: str
    bot_version: int
    sampling: Sampling | None = None  # the caller's wishes for `main`'s LLM, within the bot's
    earlier: Earlier = field(default_factory=Earlier)  # what earlier answers' tool flows keep
    # The rows of this turn (empty outside a server: `chinwag eval`, the benches).
    session_pk: str = ""
    user_message_id: str = ""
    message_id: str = ""  # the assistant message being written
    decision: Decision | None = None  # the visitor confirms or cancels a held action


@dataclass(slots=True)
class FlowResult:
    """What one flow that ran for a message gave (stored as a `flow_runs` row with it)."""

    flow: str
    status: str  # completed | failed
    ms: float
    score: float | None = None
    usage: Usage | None = None
    error_code: str | None = None
    output: str = ""
    # False when its table rows were only the nearest to the message in meaning (the message
    # named none of them): then it never answers word for word.
    rows_selected: bool = True
    asks: bool = False  # its output asks the visitor for a tool argument: it is the answer
    tool: dict[str, Any] | None = None  # its tool call, as recorded (ToolOutcome.record)
    tool_calls: list[dict[str, Any]] | None = None  # main's function calls, as recorded
    memory: dict[str, Any] | None = None  # what the next turns keep of it (engine.follow_up)

    def as_row(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "status": self.status,
            "ms": self.ms,
            "score": self.score,
            "usage": self.usage.model_dump() if self.usage is not None else None,
            "error_code": self.error_code,
            "tool": self.tool,
            "tool_calls": self.tool_calls,
        }


@dataclass(slots=True)
class Answer:
    """The answer as it grows; on failure it still holds the text and the flows so far."""

    parts: list[str] = field(default_factory=list)
    usage: Usage | None = None
    route: RouteDecision | None = None
    flow_results: list[FlowResult] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # what main's answer was based on
    curated: CuratedMatch | None = None
    curated_mode: CuratedMode = "answer"
    verbatim_from: str | None = None  # the optional flow whose output main gave word for word
    declined: Decline | None = None  # the answer policy's reply instead of an LLM's
    # What the answer policy measured (out-of-scope probability, support), declined or not.
    policy_scores: dict[str, float] = field(default_factory=dict)
    policy_check_error: str | None = None  # the code of a `check: llm` that could not say
    fallback_flows: list[str] = field(default_factory=list)  # run when nothing else grounded it
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # main's function calls
    kept_flows: list[str] = field(default_factory=list)  # tool flows the previous answer kept
    confirmation: dict[str, Any] | None = None  # a held action this answer asked for or decided
    failed_call: ToolOutcome | None = None  # main's first function call made that failed
    calls_started: int = 0  # tool calls this answer started (limits.tool_calls_per_message)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def route_record(self) -> dict[str, Any] | None:
        """How the answer came about: the router's decision, and the curated answer used."""
        record: dict[str, Any] = {}
        if self.route is not None:
            r = self.route
            record = {"strategy": r.strategy, "flows": r.flows, "scores": r.scores, "ms": r.ms}
            if r.uncertain is not None:
                record["uncertain"] = r.uncertain
            if r.asks_person:
                record["asks_person"] = True
            if r.error is not None:
                record["error"] = {"code": r.error.code, "message": r.error.message}
        if self.curated is not None:
            record["curated"] = self.curated.mark(self.curated_mode).model_dump()
        if self.verbatim_from is not None:
            record["verbatim_from"] = self.verbatim_from
        if self.declined is not None:
            record["declined"] = self.declined.record()
        elif self.policy_scores:
            record["policy"] = self.policy_scores
        if self.fallback_flows:
            record["fallback"] = self.fallback_flows
        if self.kept_flows:
            record["kept"] = self.kept_flows
        if self.confirmation is not None:
            record["confirmation"] = self.confirmation
        memory = {r.flow: r.memory for r in self.flow_results if r.memory is not None}
        if memory:
            record[MEMORY_KEY] = memory
        if self.policy_check_error is not None:
            record["policy_check_error"] = self.policy_check_error
        return record or None


@dataclass(slots=True)
class FlowContext:
    """What every flow of one message works with: the bot, the message (and its history),
    where its events go, its models, the bot's knowledge and tables, and the answer so far."""

    bot: BotConfig
    message: MessageInput
    emit: Emit
    model_for: ModelFor
    knowledge: KnowledgeService | None = None
    tables: TableLookups | None = None
    answer: Answer = field(default_factory=Answer)
    tools: ToolCaller = field(default_factory=ToolCaller)
    actions: Actions | None = None  # where calls that need confirmation wait (None: not held)
    approved: dict[str, dict[str, Any]] = field(default_factory=dict)  # flow -> confirmed values
    # Counts one tool call of (bot, end user); raises RateLimited beyond the bot's limit.
    tool_gate: Callable[[str, str], Awaitable[None]] | None = None
    # The learnt `handoff` flow was chosen (None: no session to hand over, e.g. a bench).
    ask_person: AskPerson | None = None

    def llm(self, flow: FlowConfig) -> LLMConfig | None:
        """A flow's LLM settings: its own `llm` over the bot's."""
        return effective_llm(flow.llm, self.bot.llm)


def emit_text(ctx: FlowContext, text: str) -> None:
    """A whole text that no LLM wrote as the answer: its deltas, sentence by sentence."""
    for piece in answer_pieces(text):
        ctx.answer.parts.append(piece)
        ctx.emit(MessageDelta(text=piece))


def ms_since(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()`), as events show them."""
    return round((time.perf_counter() - started) * 1000, 2)
