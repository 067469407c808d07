"""The request of the OpenAI Responses API (`POST /v1/responses`), the parts chinwag honours,
and its input read as chinwag's turns: the history and the new user message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chinwag.conversations.schemas import MAX_MESSAGE_CHARS
from chinwag.conversations.service import Turn
from chinwag.errors import InvalidRequest, UnsupportedParameter
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.openai_api.refusals import SHARED, Rule
from chinwag.openai_api.schemas import MAX_HISTORY_MESSAGES
from chinwag.providers.protocols import Sampling

TEXT_PARTS = frozenset({"input_text", "output_text", "text"})
RESPONSES: dict[str, Rule] = {
    **SHARED,
    "text": Rule(
        lambda v: (
            not (isinstance(v, dict) and (v.get("format") or {}).get("type") in (None, "text"))
        ),
        "a bot answers in text; structured output (`text.format` json_schema) is not supported",
    ),
    "include": Rule(lambda v: bool(v), "chinwag adds nothing to a response's output"),
    "conversation": Rule(
        lambda v: True, "chinwag keeps its own sessions: continue with `previous_response_id`"
    ),
    "prompt": Rule(lambda v: True, "the bot's own prompt templates apply"),
    "max_tool_calls": Rule(lambda v: False, ""),
    "truncation": Rule(lambda v: False, ""),  # the bot's history_turns decide
}


class ResponseCreate(BaseModel):
    """`POST /v1/responses`: the bot is the model. What chinwag cannot honour is refused."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=64, description="The bot id.")
    input: str | list[dict[str, Any]] = Field(
        description="The user's message, or a list of message items ending with the user's.",
    )
    instructions: str | None = Field(
        None,
        max_length=MAX_MESSAGE_CHARS,
        description="Kept with the response; the bot's own system prompt applies.",
    )
    max_output_tokens: int | None = Field(None, ge=1, description="At most the bot's.")
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    metadata: dict[str, str] | None = Field(None, max_length=16)
    store: bool | None = True
    stream: bool | None = False
    background: bool | None = False
    previous_response_id: str | None = Field(None, max_length=64)
    user: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="The end user's id; default: the previous response's, else one per key.",
    )

    def sampling(self) -> Sampling:
        return Sampling(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_output_tokens
        )

    def stored(self) -> dict[str, Any]:
        """What the response keeps besides its message (the `openai_responses` row)."""
        return {
            "model": self.model,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "metadata": self.metadata or {},
            "store": self.store is not False,
            "background": bool(self.background),
            "previous_response_id": self.previous_response_id,
        }


@dataclass(frozen=True, slots=True)
class ReadInput:
    history: tuple[Turn, ...]
    text: str


def read_input(value: str | list[dict[str, Any]]) -> ReadInput:
    """The input as turns: earlier user and assistant messages, then the user's new one.
    Items chinwag cannot read (images, files, audio, tool calls) are refused by place."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidRequest("`input` is empty", param="input", hint="Send the user's text.")
        return ReadInput((), value)
    if not value:
        raise InvalidRequest("`input` has no items", param="input", hint="Send the user's text.")
    if len(value) > MAX_HISTORY_MESSAGES:
        raise InvalidRequest(f"`input` has more than {MAX_HISTORY_MESSAGES} items", param="input")
    turns = [_turn(i, item) for i, item in enumerate(value)]
    last = turns[-1]
    if last is None or last.role != "user" or not last.content.strip():
        raise InvalidRequest(
            "the last input item must be the user's message, with text",
            hint="End `input` with {'role': 'user', 'content': '…'}.",
            param=f"input[{len(value) - 1}]",
        )
    history = tuple(t for t in turns[:-1] if t is not None and t.role in ("user", "assistant"))
    return ReadInput(tuple(t for t in history if t.content), last.content)


def _turn(i: int, item: dict[str, Any]) -> Turn | None:
    """One message item as a turn (None: a system or developer message, which the bot's own
    system prompt replaces)."""
    kind = item.get("type", "message")
    if kind != "message":
        raise UnsupportedParameter(
            f"an input item of type '{kind}' cannot be honoured: chinwag reads messages only",
            param=f"input[{i}]",
        )
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(
            f"input[{i}].role: must be 'user', 'assistant', 'system' or 'developer'",
            param=f"input[{i}].role",
        )
    content = item.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "".join(_part_text(i, j, part) for j, part in enumerate(content))
    else:
        raise InvalidRequest(
            f"input[{i}].content: must be a string or a list of parts",
            param=f"input[{i}].content",
        )
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(
            f"input[{i}].content: longer than {MAX_MESSAGE_CHARS} characters",
            param=f"input[{i}].content",
        )
    return None if role in ("system", "developer") else Turn(role=role, content=text)


def _part_text(i: int, j: int, part: Any) -> str:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind not in TEXT_PARTS:
        raise UnsupportedParameter(
            f"a content part of type '{kind}' cannot be honoured: a bot reads text only",
            hint="Send the message's text as an `input_text` part (or a string).",
            param=f"input[{i}].content[{j}]",
        )
    text = part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(
            f"input[{i}].content[{j}].text: must be a string",
            param=f"input[{i}].content[{j}].text",
        )
    return text
