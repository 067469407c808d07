"""What the OpenAI-compatible endpoints report of an answer, read from its stream's events:
its text, what it cost and whether the answer policy declined it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from chinwag.errors import BotNotFound, GenerationFailed, NotFound
from chinwag.providers.protocols import Usage
from chinwag.streams.events import ErrorEvent, FlowCompleted, MessageCompleted, StreamEvent

Declined = Literal["out_of_scope", "unanswerable"]
MODEL_HINT = "`model` is the bot id; GET /v1/models lists the bots this key may use."


@dataclass(slots=True)
class Tally:
    """The answer as its events tell it. `usage` adds up the tokens of every flow's LLM call
    for this answer (`main` and the optional flows): zero when no LLM ran (a curated answer,
    a table's rows word for word, a decline)."""

    text: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    declined: Declined | None = None
    error: ErrorEvent | None = None
    finished: bool = False
    main_tokens: int = 0  # the answer's own: what `main`'s LLM wrote

    def saw(self, event: StreamEvent) -> None:
        if isinstance(event, FlowCompleted) and event.usage is not None:
            self.prompt_tokens += event.usage.prompt_tokens
            self.completion_tokens += event.usage.completion_tokens
            if event.flow == "main":
                self.main_tokens = event.usage.completion_tokens
        elif isinstance(event, MessageCompleted):
            self.text, self.declined, self.finished = event.text, event.declined, True
        elif isinstance(event, ErrorEvent):
            self.error = event

    @property
    def usage(self) -> Usage:
        return Usage.of(self.prompt_tokens, self.completion_tokens)

    def cut_at(self, longest: int | None) -> bool:
        """Whether `main`'s LLM stopped at the caller's limit (`max_tokens`,
        `max_output_tokens`): the answer is cut short."""
        return longest is not None and self.main_tokens >= longest

    def failure(self) -> GenerationFailed | None:
        if self.error is None:
            return None
        return failed(self.error)


def failed(error: ErrorEvent) -> GenerationFailed:
    """The answer's error as the endpoint's 502 `generation_failed` (its code and hint kept)."""
    return GenerationFailed(error.message, error_code=error.code, error_hint=error.hint)


@contextmanager
def naming_model() -> Iterator[None]:
    """A bot that does not exist (or is not the caller's) is named by `model` here, not by a
    URL: the error says so in its `param` and hint."""
    try:
        yield
    except NotFound as exc:
        if type(exc) not in (NotFound, BotNotFound):
            raise
        raise type(exc)(exc.message, hint=MODEL_HINT, param="model") from exc
