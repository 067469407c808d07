"""How a bot answers: its curated answers, and its policy for messages with nothing to answer
from."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from chinwag.config.llm import LLMConfig
from chinwag.config.strict import (
    Strict,
)


class CuratedConfig(Strict):
    """How the bot uses its curated answers (`chinwag answers`, /v1/bots/{bot}/answers)."""

    mode: Literal["answer", "prefer", "off"] = Field(
        "answer",
        description="`answer`: a matching curated answer is the answer (no LLM call); "
        "`prefer`: it is given to `main` as context; `off`: never used.",
    )
    threshold: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Least cosine similarity of a message to a curated question to match it.",
    )
    all_words: bool = Field(
        True,
        description="A match also needs every content word of the curated question in the "
        "message (its first five letters), so `Sunday` never gets `Saturday`'s answer.",
    )


DeclineReason = Literal["out_of_scope", "unanswerable"]
PolicyMode = Literal["grounded", "open"]
DeclineLanguage = Literal["en", "nb"]
DeclineText = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class PolicyConfig(Strict):
    """What the bot does with a message it has nothing to answer from (docs/answers.md)."""

    mode: PolicyMode = Field(
        "grounded",
        description="`grounded`: a message outside the bot's scope, or one that no curated "
        "answer, flow result or passage supports, gets the bot's decline text and no LLM call; "
        "`open`: the LLM answers everything.",
    )
    out_of_scope: list[str] = Field(
        default_factory=list,
        description="Messages this bot declines, besides the built-in ones (poems, homework, "
        "code, medical and legal advice, other businesses, rewriting its instructions).",
    )
    in_scope: list[str] = Field(
        default_factory=list,
        description="Messages that are this bot's business though no flow example says so "
        "(a decline the owner marked as wrong lands here).",
    )
    scope_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least probability that a message is out of scope to decline it at once "
        "(a message nothing supports is declined as out of scope from 0.5); unset: 0.7, or 0.9 "
        "with `check: llm` (the model judges the messages in between).",
    )
    support_floor: float = Field(
        0.14,
        ge=0,
        le=2,
        description="Least support (the share of the message's words in the best passage, "
        "plus the best passage's similarity) for `main` to answer a message that no curated "
        "answer or flow output grounds; below it, the message is unanswerable.",
    )
    check: Literal["none", "llm"] = Field(
        "none",
        description="`llm`: before `main` answers a message that no curated answer grounds, "
        "ask a model whether it is the bot's business and whether `main`'s material (passages, "
        "table rows, flow outputs) answers it (one short call); `none`: decide without an LLM.",
    )
    check_llm: LLMConfig | None = Field(
        None, description="`check: llm`: the model asked; unset fields come from the bot's llm."
    )
    check_timeout_seconds: float = Field(
        5.0, gt=0, description="`check: llm`: longest check; a slower one is skipped, recorded."
    )
    declined: dict[DeclineLanguage, DeclineText] = Field(
        default_factory=dict,
        description="Reply to an out-of-scope message, by language (`en`, `nb`); unset: a "
        "built-in sentence naming the bot.",
    )
    unanswerable: dict[DeclineLanguage, DeclineText] = Field(
        default_factory=dict,
        description="Reply when nothing the bot has answers the message, by language; offer "
        "contact details here. Unset: a built-in sentence.",
    )

    @property
    def declines_at_once_from(self) -> float:
        """The out-of-scope probability from which a message is declined before routing."""
        if self.scope_threshold is not None:
            return self.scope_threshold
        return 0.9 if self.check == "llm" else 0.7
