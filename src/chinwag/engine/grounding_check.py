"""The answer policy's `check: llm`: one short call asking a model whether `main`'s material
answers the message, before `main` is asked to answer it."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ValidationError

from chinwag.config.bot import BotConfig, effective_llm
from chinwag.engine.context import ModelFor
from chinwag.engine.router import json_object
from chinwag.errors import ChinwagError, GroundingCheckFailed
from chinwag.providers.protocols import ChatMessage, GenerationOptions

INSTRUCTIONS = (
    "You check a shop assistant's sources. Given the material and a customer's message, decide "
    "whether the material contains what is needed to answer the message (greetings and thanks "
    'need nothing). Answer with JSON only: {"answerable": true} or {"answerable": false}.'
)
MATERIAL_CHARS = 6000  # the check reads the start of the material; main still gets all of it
OPTIONS = GenerationOptions(
    temperature=0.0,
    max_tokens=12,
    whole=True,
    json_schema={
        "type": "object",
        "properties": {"answerable": {"type": "boolean"}},
        "required": ["answerable"],
    },
)


class _Verdict(BaseModel):
    answerable: bool


async def material_answers(
    bot: BotConfig, model_for: ModelFor, material: str, message: str
) -> bool:
    """Whether the model finds the answer to `message` in `material`; GroundingCheckFailed
    when it cannot say (an LLM error, a timeout, an answer that is not the JSON asked for)."""
    policy = bot.answer_policy
    model = model_for(effective_llm(policy.check_llm, bot.llm))
    prompt = [
        ChatMessage("system", INSTRUCTIONS),
        ChatMessage("user", f"Material:\n{material[:MATERIAL_CHARS]}\n\nMessage: {message}"),
    ]
    parts: list[str] = []
    try:
        async with asyncio.timeout(policy.check_timeout_seconds):
            async for item in model.stream(prompt, OPTIONS):
                if isinstance(item, str):
                    parts.append(item)
    except TimeoutError as exc:
        raise GroundingCheckFailed(
            f"the grounding check took longer than {policy.check_timeout_seconds} s"
        ) from exc
    except ChinwagError as exc:
        raise GroundingCheckFailed(
            f"the grounding check failed: {exc.message} ({exc.code})"
        ) from exc
    text = "".join(parts)
    try:
        return _Verdict.model_validate(json_object(text)).answerable
    except (ValueError, ValidationError) as exc:
        raise GroundingCheckFailed(
            f"the grounding check's answer is not the JSON asked for: {text.strip()[:120]!r}"
        ) from exc
