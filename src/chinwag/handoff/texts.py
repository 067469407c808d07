"""What a visitor who asked for a person is told, in the message's language."""

from __future__ import annotations

from datetime import datetime

from chinwag.config.bot import BotConfig
from chinwag.config.handoff import HandoffLanguage
from chinwag.engine.policy import language_of
from chinwag.handoff.hours import within_hours

JOINING: dict[HandoffLanguage, str] = {
    "en": "I've asked for a person from {name}. Someone will join this conversation shortly; "
    "you can keep writing here in the meantime.",
    "nb": "Jeg har bedt om at en person fra {name} tar over. Noen blir med i samtalen om "
    "litt; du kan fortsette å skrive her så lenge.",
}
AFTER_HOURS: dict[HandoffLanguage, str] = {
    "en": "Nobody from {name} is available right now. Leave your email address here and "
    "we'll get back to you as soon as we're in.",
    "nb": "Ingen fra {name} er tilgjengelig akkurat nå. Skriv e-postadressen din her, så tar "
    "vi kontakt så snart vi er på plass.",
}


def handoff_reply(bot: BotConfig, message: str, now: datetime) -> tuple[str, bool]:
    """(the reply, whether it is within the opening hours) for a request for a person."""
    handoff = bot.handoff
    language = language_of(message)
    open_now = within_hours(handoff.hours, now)
    own, built_in = (handoff.joining, JOINING) if open_now else (handoff.after_hours, AFTER_HOURS)
    text = own.get(language) or built_in[language]
    return text.replace("{name}", bot.name), open_now
