"""The answer policy's decisions: a message is answered, or declined as out of scope or as
unanswerable, with the scores that decided it and the reply in the visitor's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chinwag.config.answers import DeclineLanguage, DeclineReason
from chinwag.config.bot import BotConfig
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


# What an unanswerable decline adds when the bot can hand the conversation to a person.
OFFER_TEXTS: dict[DeclineLanguage, str] = {
    "en": "Would you like to talk to a person from {name}? Ask for one, and someone will help.",
    "nb": "Vil du snakke med en person fra {name}? Be om det, så hjelper noen deg.",
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
    if offers_person(bot, reason):
        text += " " + offer_text(bot, message)
    return text.replace("{name}", bot.name)


def offer_text(bot: BotConfig, message: str) -> str:
    """The bot's offer of a person in the message's language, else the built-in one."""
    language = language_of(message)
    return (bot.handoff.offer.get(language) or OFFER_TEXTS[language]).replace("{name}", bot.name)


def offers_person(bot: BotConfig, reason: DeclineReason) -> bool:
    """Whether a decline for `reason` offers a person: an unanswerable message, on a bot whose
    handoff is on and says so (`handoff.offer_when_unanswerable`)."""
    handoff = bot.handoff
    return reason == "unanswerable" and handoff.enabled and handoff.offer_when_unanswerable


def offers_person_after(bot: BotConfig) -> bool:
    """Whether an answer after a failed tool call offers a person
    (`handoff.offer_when_tool_fails`)."""
    return bot.handoff.enabled and bot.handoff.offer_when_tool_fails
