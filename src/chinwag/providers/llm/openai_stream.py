"""A lean streaming client for OpenAI-compatible chat servers: the hot path, on aiohttp alone.

The `openai` SDK client (openai_compat.py) routes every streamed line through its own response
classes and an httpx-to-aiohttp shim; inside a loaded server that costs about 6 ms CPU per
64-token answer (bench/README.md). This client sends the same request and reads the lines straight
from aiohttp. It keeps the SDK's semantics: the same retries (connection errors and 408/409/429/5xx,
`max_retries` times, with back-off) and the same classification of HTTP errors (wire.py).

`timeout_seconds` bounds the wait for the response's headers and, once it streams, each silence
between two network reads (`llm_timeout`). The silence is watched by one timer per answer that
re-arms itself only when it fires: aiohttp's own read timeout re-arms a timer at every network
read, one per token (about 3 % of a busy server's CPU).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from chinwag.errors import LLMStreamBroken, LLMTimeout, LLMUnreachable
from chinwag.providers.llm.wire import (
    RETRYABLE_STATUSES,
    ToolCallChunks,
    error_detail,
    parse_chunk,
    parse_completion,
    status_error,
    text_then_calls,
    wire_message,
)
from chinwag.providers.protocols import ChatMessage, GenerationOptions, ToolCall, Usage

RETRY_DELAY_SECONDS = 0.5
MAX_LINE_BYTES = 4 * 1024 * 1024


class StreamingChatModel:
    """Streams chat completions from an OpenAI-compatible `/v1/chat/completions`."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout_seconds: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        self.model = model
        self.base_url = (base_url or "https://api.openai.com/v1").rstrip("/")
        self.name = f"openai:{model}@{self.base_url}"
        self._url = f"{self.base_url}/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {api_key or 'chinwag-no-key'}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
        }
        self._timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout_seconds, 10.0), sock_read=None
        )
        self._max_retries = max_retries
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                read_bufsize=MAX_LINE_BYTES,
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
            )
        return self._session

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        return self._items(_request(self.model, messages, options), options.whole)

    async def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        tools: Sequence[dict[str, Any]],
        *,
        choice: str = "auto",
    ) -> AsyncIterator[str | ToolCall | Usage]:
        request = _request(self.model, messages, dataclasses.replace(options, whole=False))
        request |= {"tools": list(tools), "tool_choice": choice}
        chunks = ToolCallChunks()
        async for item in text_then_calls(self._items(request, False, chunks.parse), chunks):
            yield item

    async def _items(
        self,
        request: dict[str, object],
        whole: bool,
        parse: Callable[[bytes], list[str | Usage]] = parse_chunk,
    ) -> AsyncIterator[str | Usage]:
        response = await self._post(orjson.dumps(request))
        if whole:  # one JSON body instead of a chunk per token: less CPU, same text
            for item in await self._whole(response):
                yield item
            return
        finished = False
        silence = SilenceWatch(response.content, self._timeout_seconds)
        try:
            # Read to the end of the body even after [DONE], so the connection goes back to
            # the pool instead of being closed with the response.
            async for line in _lines(response.content, silence):
                if finished or not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    finished = True
                    continue
                for item in parse(payload):
                    yield item
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            if silence.expired:
                raise LLMTimeout(
                    f"the LLM at {self.base_url} sent nothing for {self._timeout_seconds:g} s "
                    "in the middle of its answer"
                ) from exc
            raise LLMStreamBroken(
                f"the LLM stream from {self.base_url} broke off: {exc!r}"
            ) from exc
        finally:
            silence.cancel()
            response.release()
        if not finished:
            raise LLMStreamBroken(f"the LLM stream from {self.base_url} ended without [DONE]")

    async def _whole(self, response: aiohttp.ClientResponse) -> list[str | Usage]:
        try:
            async with asyncio.timeout(self._timeout_seconds):
                body = await response.read()
            return parse_completion(body)
        except TimeoutError as exc:
            raise LLMTimeout(
                f"the LLM at {self.base_url} did not send its whole answer within "
                f"{self._timeout_seconds:g} s"
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            where = self.base_url
            raise LLMStreamBroken(f"the LLM's answer from {where} broke off: {exc!r}") from exc
        finally:
            response.release()

    async def _post(self, body: bytes) -> aiohttp.ClientResponse:
        """POST with the SDK's retry rules; returns a 2xx response or raises an LLMError."""
        where = f"{self.base_url} (model '{self.model}')"
        for attempt in range(self._max_retries + 1):
            last = attempt == self._max_retries
            try:
                async with asyncio.timeout(self._timeout_seconds):  # until the headers
                    response = await self._client().post(
                        self._url, data=body, headers=self._headers
                    )
            except aiohttp.ClientConnectorError as exc:
                if last:
                    raise LLMUnreachable(
                        f"cannot connect to the LLM at {self.base_url}: {exc}"
                    ) from exc
            except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                if last:
                    raise LLMTimeout(f"the LLM at {where} did not answer in time") from exc
            except aiohttp.ClientError as exc:
                if last:
                    raise LLMUnreachable(f"the LLM at {self.base_url} failed: {exc!r}") from exc
            else:
                if response.status < 400:
                    return response
                raw = await response.read()
                response.release()
                retryable = response.status in RETRYABLE_STATUSES or response.status >= 500
                if last or not retryable:
                    try:
                        body_json: object = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        body_json = None
                    detail = error_detail(body_json, raw.decode(errors="replace")[:500])
                    raise status_error(response.status, detail, where)
            await asyncio.sleep(RETRY_DELAY_SECONDS * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _request(
    model: str, messages: Sequence[ChatMessage], options: GenerationOptions
) -> dict[str, object]:
    """The chat-completions request body for these messages and options."""
    request: dict[str, object] = {
        "model": model,
        "messages": [wire_message(m) for m in messages],
        "stream": not options.whole,
    }
    if not options.whole:
        request["stream_options"] = {"include_usage": True}
    if options.temperature is not None:
        request["temperature"] = options.temperature
    if options.max_tokens is not None:
        request["max_tokens"] = options.max_tokens
    if options.top_p is not None:
        request["top_p"] = options.top_p
    if options.stop:
        request["stop"] = list(options.stop)
    if options.seed is not None:
        request["seed"] = options.seed
    if options.json_schema is not None:
        request["response_format"] = {"type": "json_object"}
    return request


class SilenceWatch:
    """Ends a response's body with a TimeoutError once it has sent nothing for `seconds`.

    The reader calls `heard()` at every network read it takes (a clock read, no timer); the one
    timer re-arms itself for the rest of the silence when it fires early, and also when bytes
    arrived that the reader has not taken yet (a busy reader is not a silent server)."""

    def __init__(self, body: aiohttp.StreamReader, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._body = body
        self._seconds = seconds
        self._bytes_seen = body.total_bytes
        self.last_heard = self._loop.time()
        self.expired = False
        self._timer = self._loop.call_at(self.last_heard + seconds, self._check)

    def heard(self) -> None:
        self.last_heard = self._loop.time()
        self._bytes_seen = self._body.total_bytes

    def cancel(self) -> None:
        self._timer.cancel()

    def _check(self) -> None:
        now, due = self._loop.time(), self.last_heard + self._seconds
        if now < due:
            self._timer = self._loop.call_at(due, self._check)
        elif self._body.total_bytes != self._bytes_seen:
            self._bytes_seen = self._body.total_bytes
            self._timer = self._loop.call_at(now + self._seconds, self._check)
        else:
            self.expired = True
            self._body.set_exception(TimeoutError(f"nothing received for {self._seconds:g} s"))


async def _lines(body: aiohttp.StreamReader, silence: SilenceWatch) -> AsyncIterator[bytes]:
    """The body's lines, read as the bytes arrive: one await per network read (an SSE event is
    two lines and usually one read) instead of one per line."""
    pending = b""
    async for chunk in body.iter_any():
        silence.heard()
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise ValueError(f"a line of the LLM stream is longer than {MAX_LINE_BYTES} bytes")
        for line in lines:
            yield line
    if pending:
        yield pending
