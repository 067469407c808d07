"""Any OpenAI-compatible chat server, through the official `openai` SDK.

The SDK builds and sends the request (over its aiohttp transport), retries connection failures
and turns HTTP errors into its exception classes. The streamed body is read line by line and each
chunk is parsed once with orjson instead of being turned into SDK models: that per-chunk
construction is most of a relay's CPU (bench/openai_client_cpu.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import aiohttp
import httpx2
import openai
import orjson
from openai.types.chat import ChatCompletionMessageParam

from chinwag.errors import LLMError, LLMStreamBroken, LLMTimeout, LLMUnreachable
from chinwag.providers.llm.wire import (
    ToolCallChunks,
    error_detail,
    parse_chunk,
    status_error,
    text_then_calls,
    wire_message,
)
from chinwag.providers.protocols import ChatMessage, GenerationOptions, ToolCall, Usage


class OpenAIChatModel:
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
        self.base_url = base_url or "https://api.openai.com/v1"
        self.name = f"openai:{model}@{self.base_url}"
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "chinwag-no-key",
            timeout=timeout_seconds,
            max_retries=max_retries,
            # The SDK's aiohttp transport parses HTTP in C: 1.3 instead of 2.2 ms CPU per
            # 64-token answer (bench/openai_client_cpu.py).
            http_client=openai.DefaultAioHttpClient(timeout=timeout_seconds),
        )

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        return self._items(messages, options, {}, parse_chunk)

    async def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        tools: Sequence[dict[str, Any]],
        *,
        choice: str = "auto",
    ) -> AsyncIterator[str | ToolCall | Usage]:
        chunks = ToolCallChunks()
        extra = {"tools": list(tools), "tool_choice": choice}
        async for item in text_then_calls(
            self._items(messages, options, extra, chunks.parse), chunks
        ):
            yield item

    async def _items(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        extra: dict[str, Any],
        parse: Callable[[str], list[str | Usage]],
    ) -> AsyncIterator[str | Usage]:
        prompt = cast("list[ChatCompletionMessageParam]", [wire_message(m) for m in messages])
        finished = False
        try:
            async with self._client.chat.completions.with_streaming_response.create(
                model=self.model,
                messages=prompt,
                stream=True,
                stream_options={"include_usage": True},
                temperature=openai.omit if options.temperature is None else options.temperature,
                max_tokens=openai.omit if options.max_tokens is None else options.max_tokens,
                top_p=openai.omit if options.top_p is None else options.top_p,
                stop=list(options.stop) if options.stop else openai.omit,
                seed=openai.omit if options.seed is None else options.seed,
                response_format=openai.omit
                if options.json_schema is None
                else {"type": "json_object"},
                extra_body=extra or None,
            ) as response:
                # Read to the end of the body even after [DONE]: a response closed early
                # takes its connection with it, and every answer would open a new one.
                async for line in response.iter_lines():
                    if finished or not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        finished = True
                        continue
                    for item in parse(payload):
                        yield item
        except openai.APIError as exc:
            raise self._translate(exc) from exc
        except httpx2.TimeoutException as exc:  # silent in the middle of the answer
            raise LLMTimeout(
                f"the LLM at {self.base_url} sent nothing for too long in the middle of its "
                f"answer: {exc!r}"
            ) from exc
        except (httpx2.HTTPError, orjson.JSONDecodeError) as exc:
            raise LLMStreamBroken(f"the LLM stream from {self.base_url} broke off: {exc}") from exc
        if not finished:
            raise LLMStreamBroken(f"the LLM stream from {self.base_url} ended without [DONE]")

    def _translate(self, exc: openai.APIError) -> LLMError:
        where = f"{self.base_url} (model '{self.model}')"
        detail = error_detail(exc.body, str(exc.message))
        refused = _connection_refused(exc)
        if refused is not None:
            return LLMUnreachable(f"cannot connect to the LLM at {self.base_url}: {refused}")
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"the LLM at {where} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnreachable(f"cannot connect to the LLM at {self.base_url}: {exc.__cause__}")
        if isinstance(exc, openai.APIStatusError):
            return status_error(exc.status_code, detail, where)
        return LLMStreamBroken(f"the LLM stream from {where} failed: {detail}")

    async def aclose(self) -> None:
        await self._client.close()


def _connection_refused(exc: BaseException) -> BaseException | None:
    """The connect failure behind an SDK error, if there is one.

    The SDK's aiohttp transport reports a refused connection as ConnectTimeout; the original
    aiohttp.ClientConnectorError is further down the cause chain, and says what happened.
    """
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientConnectorError) and not isinstance(
            seen, aiohttp.ServerTimeoutError
        ):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
