"""A response of the OpenAI Responses API, and its typed stream events, made from chinwag's
answer: the same stream events always give the same response events with the same
`sequence_number`s, so a reader resumes (`starting_after`) from the durable log on any server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from chinwag.openai_api.answers import Tally
from chinwag.providers.protocols import Usage
from chinwag.streams.events import (
    ErrorEvent,
    MessageCompleted,
    MessageDelta,
    StreamCompleted,
    StreamEvent,
    StreamStarted,
)

ResponseEvent = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    """What every state of one response shares."""

    id: str
    message_id: str
    created_at: int
    request: dict[str, Any]
    user: str

    @property
    def item_id(self) -> str:
        return f"msg_{self.message_id}"


def response_body(
    facts: ResponseFacts,
    *,
    status: str,
    text: str | None = None,
    usage: Usage | None = None,
    error: dict[str, Any] | None = None,
    declined: str | None = None,
) -> dict[str, Any]:
    """The `response` object (`text` None: no output item yet); `incomplete`: cut short at
    `max_output_tokens`."""
    request = facts.request
    output = [] if text is None else [message_item(facts, text, _item_status(status))]
    return {
        "id": facts.id,
        "object": "response",
        "created_at": facts.created_at,
        "status": status,
        "background": request["background"],
        "error": error,
        "incomplete_details": ({"reason": "max_output_tokens"} if status == "incomplete" else None),
        "instructions": request["instructions"],
        "max_output_tokens": request["max_output_tokens"],
        "metadata": request["metadata"],
        "model": request["model"],
        "output": output,
        "parallel_tool_calls": False,
        "previous_response_id": request["previous_response_id"],
        "store": request["store"],
        "temperature": request["temperature"],
        "top_p": request["top_p"],
        "text": {"format": {"type": "text"}},
        "tool_choice": "none",
        "tools": [],
        "truncation": "disabled",
        "usage": None if usage is None else response_usage(usage),
        "user": facts.user,
        "declined": declined,
    }


def _item_status(status: str) -> str:
    return {"completed": "completed", "in_progress": "in_progress"}.get(status, "incomplete")


def message_item(facts: ResponseFacts, text: str, status: str) -> dict[str, Any]:
    content = [output_text(text)] if status != "in_progress" else []
    return {
        "id": facts.item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": content,
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def response_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def error_body(error: ErrorEvent) -> dict[str, Any]:
    return {"code": error.code, "message": f"{error.message}. {error.hint}", "hint": error.hint}


@dataclass(slots=True)
class ResponseStream:
    """Turns one answer's stream events into the Responses API's typed events, in order:
    `response.created`, `response.in_progress`, `response.output_item.added`,
    `response.content_part.added`, `response.output_text.delta`…, `response.output_text.done`,
    `response.content_part.done`, `response.output_item.done`, then `response.completed`
    (`response.incomplete` when cut short at `max_output_tokens`), or `response.failed` with
    the error."""

    facts: ResponseFacts
    tally: Tally = field(default_factory=Tally)
    next_number: int = 0
    text: list[str] = field(default_factory=list)

    def events(self, event: StreamEvent) -> list[ResponseEvent]:
        self.tally.saw(event)
        facts, item = self.facts, self.facts.item_id
        at = {"item_id": item, "output_index": 0, "content_index": 0}
        if isinstance(event, StreamStarted):
            return self._numbered(
                {"type": "response.created", "response": self._body("in_progress")},
                {"type": "response.in_progress", "response": self._body("in_progress")},
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": message_item(facts, "", "in_progress"),
                },
                {"type": "response.content_part.added", **at, "part": output_text("")},
            )
        if isinstance(event, MessageDelta):
            self.text.append(event.text)
            return self._numbered(
                {"type": "response.output_text.delta", **at, "delta": event.text, "logprobs": []}
            )
        if isinstance(event, MessageCompleted):
            done = "incomplete" if self._cut() else "completed"
            return self._numbered(
                {"type": "response.output_text.done", **at, "text": event.text, "logprobs": []},
                {"type": "response.content_part.done", **at, "part": output_text(event.text)},
                {
                    "type": "response.output_item.done",
                    "output_index": 0,
                    "item": message_item(facts, event.text, done),
                },
            )
        if isinstance(event, StreamCompleted):
            if event.status == "completed" and self.tally.error is None:
                kind = "response.incomplete" if self._cut() else "response.completed"
                return self._numbered({"type": kind, "response": self._final()})
            return self._numbered({"type": "response.failed", "response": self._final()})
        return []

    def _cut(self) -> bool:
        return self.tally.cut_at(self.facts.request["max_output_tokens"])

    def _body(self, status: str) -> dict[str, Any]:
        return response_body(self.facts, status=status)

    def _final(self) -> dict[str, Any]:
        tally = self.tally
        if tally.error is None:
            return response_body(
                self.facts,
                status="incomplete" if self._cut() else "completed",
                text=tally.text,
                usage=tally.usage,
                declined=tally.declined,
            )
        cancelled = tally.error.code == "response_cancelled"
        return response_body(
            self.facts,
            status="cancelled" if cancelled else "failed",
            text="".join(self.text),
            usage=tally.usage,
            error=None if cancelled else error_body(tally.error),
        )

    def _numbered(self, *events: ResponseEvent) -> list[ResponseEvent]:
        for event in events:
            event["sequence_number"] = self.next_number
            self.next_number += 1
        return list(events)


def frame(event: ResponseEvent) -> bytes:
    """One SSE frame: `event:` is the type, `data:` the event's JSON."""
    return b"event: %s\ndata: %s\n\n" % (event["type"].encode(), orjson.dumps(event))
