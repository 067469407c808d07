"""The contracts every provider implements. Extension point: one small method each."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks for (function calling): its id, the tool, the arguments as the
    JSON text the model wrote (not parsed: the caller checks it)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # system | user | assistant | tool
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn that asked for calls
    tool_call_id: str | None = None  # a `tool` turn: the call it answers


class Usage(BaseModel):
    """Tokens used: what a model reports for one call, and what an answer or a flow used
    (in `message.completed`, `flow.completed`, the stored message and its flow runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, prompt_tokens: int, completion_tokens: int) -> Usage:
        return cls(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class GenerationOptions:
    temperature: float | None = None
    max_tokens: int | None = None
    # Ask for a JSON object (constrained to this JSON Schema where the server can do that).
    json_schema: dict[str, Any] | None = None
    # The caller uses only the whole text (an optional flow feeding `main`): a model may answer
    # in one piece, from one response, instead of streaming deltas.
    whole: bool = False
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Sampling:
    """What a caller of the OpenAI-compatible endpoints asks of the answer's LLM (`main`)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def within(self, options: GenerationOptions) -> GenerationOptions:
        """The bot's options with the caller's over them; `max_tokens` never above the bot's."""
        longest = options.max_tokens
        if self.max_tokens is not None:
            longest = self.max_tokens if longest is None else min(longest, self.max_tokens)
        return dataclasses.replace(
            options,
            temperature=options.temperature if self.temperature is None else self.temperature,
            top_p=options.top_p if self.top_p is None else self.top_p,
            max_tokens=longest,
            stop=self.stop or options.stop,
            seed=options.seed if self.seed is None else self.seed,
        )


@runtime_checkable
class ChatModel(Protocol):
    """Streams one chat completion.

    Yields text deltas (non-empty `str`) in order, then at most one `Usage`. Raises a
    `chinwag.errors.LLMError` subclass (stable code and hint) on any failure, including a
    stream that breaks off after some text. Never blocks the event loop.
    """

    name: str

    def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ToolCallingModel(Protocol):
    """A chat model that can call tools (OpenAI-compatible `tools`; not the embedded model).

    `stream_tools` yields text deltas in order, then the calls the model asks for (each whole,
    its arguments joined across chunks), then at most one `Usage`. `tools` are OpenAI function
    specs; `choice` `none` asks for text only. Errors as `ChatModel.stream`."""

    def stream_tools(
        self,
        messages: Sequence[ChatMessage],
        options: GenerationOptions,
        tools: Sequence[dict[str, Any]],
        *,
        choice: str = "auto",
    ) -> AsyncIterator[str | ToolCall | Usage]: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors (float32 rows, one per text, in order).

    Raises a `chinwag.errors.EmbeddingError` subclass on any failure. Never blocks the event
    loop: local models compute in a worker thread.
    """

    name: str

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...

    async def dimension(self) -> int: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PartsEmbedder(Protocol):
    """An embedder that embeds a text and parts of it in one pass (the local model)."""

    async def embed_parts(
        self, text: str, parts: Sequence[tuple[int, int]]
    ) -> NDArray[np.float32]: ...
