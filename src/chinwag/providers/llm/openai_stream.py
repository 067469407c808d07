"""A lean streaming client for OpenAI-compatible chat servers: the hot path, on aiohttp alone.

The `openai` SDK client (openai_compat.py) routes every streamed line through its own response
classes and an httpx-to-aiohttp shim; inside a loaded server that costs about 6 ms CPU per
64-token answer (bench/README.md). This client sends the same request and reads the lines straight
from aiohttp. It keeps the SDK's semantics: the same retries (connection errors and 408/409/429/5xx,
`max_retries` times, with back-off) and the same classification of HTTP errors (wire.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import aiohttp
import orjson

from chinwag.errors import LLMStreamBroken, LLMTimeout, LLMUnreachable
from chinwag.providers.llm.wire import (
    RETRYABLE_STATUSES,
    error_detail,
    parse_chunk,
    parse_completion,
    status_error,
)
from chinwag.providers.protocols import ChatMessage, GenerationOptions, Usage

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
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(timeout_seconds, 10.0), sock_read=timeout_seconds
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

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        request: dict[str, object] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": not options.whole,
        }
        if not options.whole:
            request["stream_options"] = {"include_usage": True}
        if options.temperature is not None:
            request["temperature"] = options.temperature
        if options.max_tokens is not None:
            request["max_tokens"] = options.max_tokens
        if options.json_schema is not None:
            request["response_format"] = {"type": "json_object"}
        response = await self._post(orjson.dumps(request))
        if options.whole:  # one JSON body instead of a chunk per token: less CPU, same text
            for item in await self._whole(response):
                yield item
            return
        finished = False
        try:
            # Read to the end of the body even after [DONE], so the connection goes back to
            # the pool instead of being closed with the response.
            async for line in _lines(response.content):
                if finished or not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    finished = True
                    continue
                for item in parse_chunk(payload):
                    yield item
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
            raise LLMStreamBroken(
                f"the LLM stream from {self.base_url} broke off: {exc!r}"
            ) from exc
        finally:
            response.release()
        if not finished:
            raise LLMStreamBroken(f"the LLM stream from {self.base_url} ended without [DONE]")

    async def _whole(self, response: aiohttp.ClientResponse) -> list[str | Usage]:
        try:
            return parse_completion(await response.read())
        except (aiohttp.ClientError, ValueError, TimeoutError) as exc:
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
                response = await self._client().post(self._url, data=body, headers=self._headers)
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


async def _lines(body: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The body's lines, read as the bytes arrive: one await per network read (an SSE event is
    two lines and usually one read) instead of one per line."""
    pending = b""
    async for chunk in body.iter_any():
        *lines, pending = (pending + chunk).split(b"\n")
        if len(pending) > MAX_LINE_BYTES:
            raise ValueError(f"a line of the LLM stream is longer than {MAX_LINE_BYTES} bytes")
        for line in lines:
            yield line
    if pending:
        yield pending
