"""The OpenAI chat-completions wire format, shared by both OpenAI-compatible clients.

Parsing one streamed chunk, and turning an HTTP error status into chinwag's error with the same
classification the `openai` SDK makes (401/403 auth, 404 not found, 429 rate limit, 400/422 bad
request, anything else an error).
"""

from __future__ import annotations

from collections.abc import Iterable
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
from chinwag.providers.protocols import Usage

# Statuses the SDK retries (besides connection errors): timeout, conflict, rate limit, server.
RETRYABLE_STATUSES = frozenset({408, 409, 429})


def parse_chunk(payload: str | bytes) -> list[str | Usage]:
    """Text deltas and usage of one `data:` payload of a chat.completion.chunk stream."""
    chunk = orjson.loads(payload)
    if not isinstance(chunk, dict):
        raise LLMStreamBroken(f"the LLM sent a chunk that is not a JSON object: {payload[:200]!r}")
    if "error" in chunk:
        raise LLMStreamBroken(f"the LLM reported an error mid-stream: {chunk['error']}")
    return _texts_then_usage(chunk.get("choices") or (), "delta", chunk.get("usage"))


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
