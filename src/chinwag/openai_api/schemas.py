"""Request and response models of the OpenAI chat completions API (the parts chinwag uses)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chinwag.conversations.schemas import MAX_MESSAGE_CHARS
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.providers.protocols import Sampling

MAX_HISTORY_MESSAGES = 200


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=40)
    text: str | None = Field(None, max_length=MAX_MESSAGE_CHARS)


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = Field(None, max_length=MAX_MESSAGE_CHARS)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionIn(BaseModel):
    """Sampling parameters reach the bot's `main` LLM within its limits; what chinwag cannot
    honour is refused (openai_api/refusals.py), never ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=64, description="The bot id.")
    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=MAX_HISTORY_MESSAGES,
        description="The conversation; the last one must be the user's. Earlier user and "
        "assistant messages open a new session as its history.",
    )
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="The end user's id; default: one user per API key.",
    )
    max_tokens: int | None = Field(None, ge=1, description="At most the bot's `max_tokens`.")
    max_completion_tokens: int | None = Field(None, ge=1, description="Same as `max_tokens`.")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    seed: int | None = None

    def sampling(self) -> Sampling:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop or []
        longest = [n for n in (self.max_tokens, self.max_completion_tokens) if n is not None]
        return Sampling(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=min(longest) if longest else None,
            stop=tuple(stop),
            seed=self.seed,
        )


class CompletionUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatMessageOut(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ChatMessageOut
    finish_reason: Literal["stop", "length"] = "stop"


Declined = Literal["out_of_scope", "unanswerable"]


class ChatCompletionOut(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    declined: Declined | None = Field(
        None,
        description="chinwag's extension: the answer policy declined the message "
        "(`out_of_scope` or `unanswerable`); the content is the bot's decline text.",
    )


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "chinwag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


def chunk(
    *, completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    """One `chat.completion.chunk` of a streamed answer."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
