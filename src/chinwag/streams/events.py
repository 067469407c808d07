"""Typed stream events (a discriminated union on `type`) and the committed entries of a
stream's log; their SSE framing is streams/sse.py's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chinwag.providers.protocols import Usage
from chinwag.streams.sse import encode_frame

StreamStatus = Literal["completed", "failed", "interrupted"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamStarted(_Event):
    type: Literal["stream.started"] = "stream.started"
    stream_id: str
    message_id: str
    session_id: str
    user_id: str
    bot_id: str
    bot_version: int


class RouteError(_Event):
    code: str
    message: str


class RouteDecided(_Event):
    """The flows that will run (`main` first), every optional flow's score, and the time."""

    type: Literal["route.decided"] = "route.decided"
    flows: list[str]
    scores: dict[str, float] = Field(default_factory=dict)
    strategy: str = "all"
    ms: float = 0.0
    error: RouteError | None = None  # the router failed: only `main` runs


class FlowStarted(_Event):
    type: Literal["flow.started"] = "flow.started"
    flow: str


class FlowCompleted(_Event):
    type: Literal["flow.completed"] = "flow.completed"
    flow: str
    ms: float
    usage: Usage | None = None
    rows: dict[str, int] | None = None  # table lookup: rows given to the flow, per table


class FlowFailed(_Event):
    type: Literal["flow.failed"] = "flow.failed"
    flow: str
    ms: float
    code: str
    message: str


class ToolStarted(_Event):
    """A flow calls a tool; `arguments` as checked, secret fields `[redacted]` (docs/tools.md)."""

    type: Literal["tool.started"] = "tool.started"
    flow: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # `main`'s function calling: the model's turn (1, 2, …) and its id for the call.
    step: int | None = None
    call_id: str | None = None


class ToolCompleted(_Event):
    """The call's end: `completed` (mapped result given to the flow), or `error` with a code."""

    type: Literal["tool.completed"] = "tool.completed"
    flow: str
    tool: str
    status: Literal["completed", "error"]
    ms: float
    http_status: int | None = None
    bytes: int = 0  # the response's size
    attempts: int = 1
    arguments: dict[str, Any] = Field(default_factory=dict)
    code: str | None = None
    message: str | None = None
    step: int | None = None
    call_id: str | None = None


class ToolConfirmation(_Event):
    """A call that changes something waits for the visitor: `text` says what will be done;
    the visitor answers with a message naming `action_id` (docs/tools.md#confirmations)."""

    type: Literal["tool.confirmation"] = "tool.confirmation"
    action_id: str
    flow: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    text: str


class Source(_Event):
    document: str
    title: str | None = None
    score: float
    snippet: str
    url: str | None = None  # the document's own page, when it was ingested with one


class RetrievalCompleted(_Event):
    type: Literal["retrieval.completed"] = "retrieval.completed"
    flow: str
    sources: list[Source]


class MessageDelta(_Event):
    type: Literal["message.delta"] = "message.delta"
    text: str


class MessageDeclined(_Event):
    """The answer policy declined the message: the deltas that follow are the bot's decline
    text, not an LLM's answer (docs/answers.md)."""

    type: Literal["message.declined"] = "message.declined"
    reason: Literal["out_of_scope", "unanswerable"]
    scores: dict[str, float] = Field(default_factory=dict)
    # "handoff": the decline text offers a person, and the visitor can ask for one
    # (POST …/sessions/{session_id}/handoff, or in words); null: no offer.
    offer: Literal["handoff"] | None = None


class HandoffOffered(_Event):
    """The answer ends with an offer of a person (the deltas carry its text): a routed flow's
    tool call, or one `main` made by function calling (`flow: main`), failed and the bot's
    `handoff.offer_when_tool_fails` is on. The visitor can ask
    for one (POST …/sessions/{session_id}/handoff, or in words)."""

    type: Literal["handoff.offered"] = "handoff.offered"
    reason: Literal["tool_failed"] = "tool_failed"
    flow: str
    tool: str
    code: str | None = None


class CuratedMark(_Event):
    """The curated answer behind a message: its text (`answer`) or main's context (`prefer`)."""

    id: str
    question: str
    score: float
    mode: Literal["answer", "prefer"]


class MessageCompleted(_Event):
    type: Literal["message.completed"] = "message.completed"
    message_id: str
    text: str
    usage: Usage | None = None
    sources: list[Source] = Field(default_factory=list)
    curated: CuratedMark | None = None
    declined: Literal["out_of_scope", "unanswerable"] | None = None


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    code: str
    message: str
    hint: str
    retryable: bool


class HandoffRequested(_Event):
    """The visitor asked for a person in words: the session now waits for an operator (its
    events: `GET /v1/bots/{bot}/sessions/{session}/events`); the answer says what happens next."""

    type: Literal["handoff.requested"] = "handoff.requested"
    state: Literal["waiting", "claimed"]
    within_hours: bool


class StreamCompleted(_Event):
    type: Literal["stream.completed"] = "stream.completed"
    status: StreamStatus


StreamEvent = Annotated[
    StreamStarted
    | RouteDecided
    | FlowStarted
    | FlowCompleted
    | FlowFailed
    | ToolStarted
    | ToolCompleted
    | ToolConfirmation
    | RetrievalCompleted
    | MessageDelta
    | MessageDeclined
    | MessageCompleted
    | HandoffRequested
    | HandoffOffered
    | ErrorEvent
    | StreamCompleted,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
TERMINAL_TYPE = "stream.completed"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One committed event of a stream: its seq, type and JSON, and its SSE frame (encoded once).

    SSE readers send `frame`; typed readers (the OpenAI-compatible route) parse `data`."""

    seq: int
    type: str
    data: str
    frame: bytes

    @classmethod
    def of(cls, seq: int, event_type: str, data: str) -> LogEntry:
        return cls(seq, event_type, data, encode_frame(seq, event_type, data))

    @property
    def ends_stream(self) -> bool:
        return self.type == TERMINAL_TYPE


# Every stream's log opens with its `stream.started` event at this seq, written with the stream's
# row in the transaction that accepts its message (streams/store.py).
STARTED_SEQ = 1
STARTED_TYPE: str = StreamStarted.model_fields["type"].default


def started_entry(data: str) -> LogEntry:
    """The first entry of a stream's log: its `stream.started` event (JSON)."""
    return LogEntry.of(STARTED_SEQ, STARTED_TYPE, data)


def parse_event(data: str | bytes) -> StreamEvent:
    """Parse one event's JSON (as stored, or as received over SSE)."""
    return EVENT_ADAPTER.validate_json(data)


def event_json_schemas() -> dict[str, Any]:
    """OpenAPI component schemas: `StreamEvent` (a oneOf on `type`) and each event model."""
    schema = EVENT_ADAPTER.json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    components["StreamEvent"] = schema
    return components
