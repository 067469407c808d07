"""The OpenAI chat-completions wire format, shared by both OpenAI-compatible clients.

Parsing one streamed chunk, and turning an HTTP error status into chinwag's error with the same
classification the `openai` SDK makes (401/403 auth, 404 not found, 429 rate limit, 400/422 bad
request, anything else an error).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import orjson

from chinwag.errors import (
    LLMAuthFailed,
    LLMBadRequest,
    LLMError,
    LLMModelNotFound,
    LLMRateLimited,
    LLMStreamBroken,
)
from chinwag.providers.protocols import ChatMessage, ToolCall, Usage

# Statuses the SDK retries (besides connection errors): timeout, conflict, rate limit, server.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def parse_chunk(payload: str | bytes) -> list[str | Usage]:
    """Text deltas and usage of one `data:` payload of a chat.completion.chunk stream."""
    chunk = _chunk(payload)
    return _texts_then_usage(chunk.get("choices") or (), "delta", chunk.get("usage"))


def _chunk(payload: str | bytes) -> dict[str, Any]:
    chunk = orjson.loads(payload)
    if not isinstance(chunk, dict):
        raise LLMStreamBroken(f"the LLM sent a chunk that is not a JSON object: {payload[:200]!r}")
    if "error" in chunk:
        raise LLMStreamBroken(f"the LLM reported an error mid-stream: {chunk['error']}")
    return chunk


def wire_message(message: ChatMessage) -> dict[str, Any]:
    """One chat message as the API takes it: a tool turn with its call's id, an assistant
    turn with the calls it asked for."""
    wired: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_call_id is not None:
        wired["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        wired["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wired


def unwire_message(wired: dict[str, Any]) -> ChatMessage:
    """A chat message back from its wire form (`wire_message`)."""
    calls = tuple(
        ToolCall(str(c["id"]), str(c["function"]["name"]), str(c["function"]["arguments"]))
        for c in wired.get("tool_calls") or ()
    )
    return ChatMessage(str(wired["role"]), str(wired["content"]), calls, wired.get("tool_call_id"))


async def text_then_calls(
    items: AsyncIterator[str | Usage], chunks: ToolCallChunks
) -> AsyncIterator[str | ToolCall | Usage]:
    """A tool-calling turn as both clients give it: its text as it streams, then the calls
    `chunks` joined from the stream, then its usage."""
    usage: list[Usage] = []
    async for item in items:
        if isinstance(item, str):
            yield item
        else:
            usage.append(item)
    for call in chunks.calls():
        yield call
    for used in usage:
        yield used


class ToolCallChunks:
    """Joins streamed `tool_calls` deltas into whole calls, as OpenAI sends them: the first
    delta of a call has its `index`, `id` and name, the next ones more of its arguments."""

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, str]] = {}

    def parse(self, payload: str | bytes) -> list[str | Usage]:
        """Like parse_chunk; the chunk's tool-call deltas are kept for `calls()`."""
        chunk = _chunk(payload)
        choices = chunk.get("choices") or ()
        for choice in choices:
            self.add((choice or {}).get("delta") or {})
        return _texts_then_usage(choices, "delta", chunk.get("usage"))

    def add(self, delta: dict[str, Any]) -> None:
        for position, piece in enumerate(delta.get("tool_calls") or ()):
            index = piece.get("index", position)
            call = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            call["id"] = piece.get("id") or call["id"]
            function = piece.get("function") or {}
            call["name"] = function.get("name") or call["name"]
            call["arguments"] += function.get("arguments") or ""

    def calls(self) -> list[ToolCall]:
        """The whole calls, in index order; a call without an id gets one."""
        return [
            ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"])
            for i, c in sorted(self._calls.items())
        ]


def parse_completion(payload: bytes) -> list[str | Usage]:
    """The text and usage of a whole (not streamed) chat.completion, as parse_chunk gives them."""
    completion = orjson.loads(payload)
    if not isinstance(completion, dict) or not isinstance(completion.get("choices"), list):
        raise LLMStreamBroken(f"the LLM's answer is not a chat completion: {payload[:200]!r}")
    return _texts_then_usage(completion["choices"], "message", completion.get("usage"))


def _texts_then_usage(choices: Iterable[Any], part: str, usage: Any) -> list[str | Usage]:
    """Each choice's non-empty `part.content` (`delta` in a chunk, `message` in a completion),
    then the usage when the server sent it."""
    items: list[str | Usage] = []
    for choice in choices:
        text = ((choice or {}).get(part) or {}).get("content")
        if text:
            items.append(text)
    if usage:
        items.append(
            Usage.of(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            )
        )
    return items


def error_detail(body: object, fallback: str) -> str:
    """The server's own words from an error body (`{"error": {"message", "code"}}` or flat)."""
    if isinstance(body, dict):
        inner: Any = body.get("error", body)
        if isinstance(inner, dict):
            message = inner.get("message") or inner
            code = inner.get("code")
            return f"{message} ({code})" if code else str(message)
        return str(inner)
    return fallback


def status_error(status: int, detail: str, where: str) -> LLMError:
    """chinwag's error for an HTTP error status from an OpenAI-compatible server."""
    if status in (401, 403):
        return LLMAuthFailed(f"the LLM at {where} rejected the API key: {detail}")
    if status == 404 or "model_not_found" in detail:
        return LLMModelNotFound(f"the LLM at {where} does not know the model: {detail}")
    if status == 429:
        return LLMRateLimited(f"the LLM at {where} is rate limiting: {detail}")
    if status in (400, 422):
        return LLMBadRequest(f"the LLM at {where} refused the request: {detail}")
    return LLMError(f"the LLM at {where} answered {status}: {detail}")
