"""Run a bot's `main` flow for one message: render its prompt, stream the model, emit events."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chinwag.bots.config import BotConfig
from chinwag.engine.templates import render
from chinwag.providers.protocols import ChatMessage, ChatModel, GenerationOptions, TokenUsage
from chinwag.streams.events import FlowCompleted, FlowStarted, MessageDelta
from chinwag.streams.events import StreamEvent as Event

Emit = Callable[[Event], object]


@dataclass(frozen=True, slots=True)
class MessageInput:
    """What the engine knows about one incoming message."""

    text: str
    history: Sequence[tuple[str, str]]  # (role, content), oldest first
    user_id: str
    bot_version: int


@dataclass(slots=True)
class Answer:
    """The answer as it grows; on failure it still holds the text generated so far."""

    parts: list[str] = field(default_factory=list)
    usage: TokenUsage | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


def build_prompt(bot: BotConfig, message: MessageInput) -> list[ChatMessage]:
    flow = bot.flows["main"]
    history = [{"role": role, "content": content} for role, content in message.history]
    variables = {
        "message": message.text,
        "history": history,
        "sources": [],
        "flows": {},
        "user": {"id": message.user_id},
        "bot": {"id": bot.id, "name": bot.name, "version": message.bot_version},
        "now": datetime.now(UTC),
    }
    prompt: list[ChatMessage] = []
    if flow.system:
        prompt.append(
            ChatMessage("system", render(flow.system, variables, where="flows.main.system"))
        )
    prompt.extend(ChatMessage(role, content) for role, content in message.history)
    prompt.append(
        ChatMessage("user", render(flow.template, variables, where="flows.main.template"))
    )
    return prompt


async def run_main_flow(
    bot: BotConfig, message: MessageInput, model: ChatModel, emit: Emit, answer: Answer
) -> None:
    """Stream the main flow's answer into `answer`, emitting flow and delta events."""
    started = time.perf_counter()
    emit(FlowStarted(flow="main"))
    prompt = build_prompt(bot, message)
    llm = bot.llm
    options = GenerationOptions(
        temperature=llm.temperature if llm else None, max_tokens=llm.max_tokens if llm else None
    )
    async for item in model.stream(prompt, options):
        if isinstance(item, str):
            answer.parts.append(item)
            emit(MessageDelta(text=item))
        else:
            answer.usage = item
    usage = answer.usage
    emit(
        FlowCompleted(
            flow="main",
            ms=round((time.perf_counter() - started) * 1000, 2),
            usage=None
            if usage is None
            else {
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
            },
        )
    )
