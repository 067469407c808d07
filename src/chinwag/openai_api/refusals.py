"""What the OpenAI-compatible endpoints cannot honour: refused with a 400 that names the
parameter (`unsupported_parameter`), never ignored.

A rule says when a parameter asks for something chinwag does not do, and why it cannot; a
parameter that no rule and no model field knows is refused as OpenAI refuses it: by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chinwag.errors import UnsupportedParameter


@dataclass(frozen=True, slots=True)
class Rule:
    asks: Callable[[Any], bool]  # the value asks for something chinwag cannot do
    why: str


def _set(value: Any) -> bool:
    return value is not None and value != [] and value != {}


def _true(value: Any) -> bool:
    return bool(value)


def _not(*harmless: Any) -> Callable[[Any], bool]:
    return lambda value: value is not None and value not in harmless


NO_TOOLS = "the bot's tools are its own; chinwag offers no function tools to callers"
# Accepted without effect on the answer, and documented so (docs/api.md).
WITHOUT_EFFECT = frozenset(
    {"store", "metadata", "service_tier", "safety_identifier", "prompt_cache_key", "user"}
)
SHARED: dict[str, Rule] = {
    "tools": Rule(_set, NO_TOOLS),
    "tool_choice": Rule(_not("none", "auto"), NO_TOOLS),
    "parallel_tool_calls": Rule(lambda v: False, ""),  # meaningless without tools
    "top_logprobs": Rule(_true, "chinwag does not return log probabilities"),
    "prediction": Rule(_set, "predicted outputs are not supported"),
    "reasoning_effort": Rule(_set, "the bot's LLM settings decide how it reasons"),
    "reasoning": Rule(_set, "the bot's LLM settings decide how it reasons"),
    "prompt_cache_retention": Rule(lambda v: False, ""),
}
CHAT: dict[str, Rule] = {
    **SHARED,
    "n": Rule(_not(1), "chinwag writes one answer per message; leave out `n` or send 1"),
    "functions": Rule(_set, NO_TOOLS),
    "function_call": Rule(_not("none", "auto"), NO_TOOLS),
    "response_format": Rule(
        lambda v: not (isinstance(v, Mapping) and v.get("type") == "text"),
        "a bot answers in text; structured output (`json_object`, `json_schema`) is not supported",
    ),
    "logprobs": Rule(_true, "chinwag does not return log probabilities"),
    "logit_bias": Rule(_set, "the bot's LLM settings decide its sampling"),
    "frequency_penalty": Rule(_not(0), "the bot's LLM settings decide its sampling"),
    "presence_penalty": Rule(_not(0), "the bot's LLM settings decide its sampling"),
    "audio": Rule(_set, "a bot answers in text, not audio"),
    "modalities": Rule(lambda v: _set(v) and list(v) != ["text"], "a bot answers in text"),
    "web_search_options": Rule(_set, "hosted web search is not supported"),
    "verbosity": Rule(_set, "the bot's LLM settings decide its answers"),
}


def refuse_unsupported(extra: Mapping[str, Any], rules: Mapping[str, Rule]) -> None:
    """Raise `unsupported_parameter` for a parameter in `extra` (the body's fields no model
    field took) that asks for what chinwag cannot do (the rules' order decides which comes
    first), or else for one that nothing knows."""
    for name, rule in rules.items():
        value = extra.get(name)
        if value is not None and rule.asks(value):
            raise UnsupportedParameter(f"`{name}` cannot be honoured: {rule.why}", param=name)
    for name, value in extra.items():
        if name not in rules and name not in WITHOUT_EFFECT and value is not None:
            raise UnsupportedParameter(
                f"unrecognized request argument supplied: {name}",
                hint="Leave it out; docs/api.md lists the parameters chinwag honours.",
                param=name,
            )


def refuse_parts(parts: list[tuple[str, str]]) -> None:
    """Content parts other than text (images, audio, files): `parts` is (param, type)."""
    for param, kind in parts:
        raise UnsupportedParameter(
            f"a content part of type '{kind}' cannot be honoured: a bot reads text only",
            hint="Send the message's text as a `text` part (or a string).",
            param=param,
        )
