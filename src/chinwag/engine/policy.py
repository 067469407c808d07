"""The answer policy's decisions: a message is answered, or declined as out of scope or as
unanswerable, with the scores that decided it and the reply in the visitor's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chinwag.config.bot import BotConfig, DeclineLanguage, DeclineReason
from chinwag.norwegian import written_in_norwegian

DEFAULT_TEXTS: dict[DeclineReason, dict[DeclineLanguage, str]] = {
    "out_of_scope": {
        "en": "Sorry, I can only help with questions about {name}.",
        "nb": "Beklager, jeg kan bare hjelpe med spørsmål om {name}.",
    },
    "unanswerable": {
        "en": "Sorry, I don't know that: it isn't in what {name} has given me to answer from.",
        "nb": "Beklager, det vet jeg ikke: det står ikke i det {name} har gitt meg å svare ut fra.",
    },
}


@dataclass(frozen=True, slots=True)
class Decline:
    """Why a message gets the bot's decline text instead of an answer."""

    reason: DeclineReason
    scores: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"reason": self.reason, "scores": self.scores}


def language_of(message: str) -> DeclineLanguage:
    return "nb" if written_in_norwegian(message) else "en"


def decline_text(bot: BotConfig, reason: DeclineReason, message: str) -> str:
    """The bot's own reply for `reason` in the message's language, else the built-in one."""
    policy = bot.answer_policy
    own = policy.declined if reason == "out_of_scope" else policy.unanswerable
    language = language_of(message)
    text = own.get(language) or DEFAULT_TEXTS[reason][language]
    return text.replace("{name}", bot.name)
