"""Whether a visitor's message asks for a person: a small built-in set of patterns per
language (English, Norwegian), anchored on a request verb and a word for a human, so that a
question that merely mentions staff ("do your people ship to Bergen?") does not trigger it."""

from __future__ import annotations

import re

# A request ("can I", "I want to", "let me", "kan jeg", "jeg vil") … to talk/speak/chat … with a
# human/person/agent/someone real; or the short forms "human please", "menneske takk".
_EN = re.compile(
    r"\b(?:talk|speak|chat|connect\s+me|put\s+me\s+through|transfer\s+me)\b[^.?!]{0,30}?"
    r"\b(?:to|with)\s+(?:a\s+|an\s+|some\s+|the\s+)?(?:real\s+|live\s+|actual\s+)?"
    r"(?:human|person|people|agent|operator|someone|somebody|staff|representative|employee)s?\b"
    r"|^\s*(?:a\s+)?(?:real\s+)?(?:human|person|agent|operator)(?:,)?\s*(?:please|pls)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
_NB = re.compile(
    r"\b(?:snakke|prate|chatte|tale)\b[^.?!]{0,30}?\bmed\s+(?:et\s+|en\s+|ei\s+|noen\s+)?"
    r"(?:ekte\s+)?(?:menneske|person|ansatt|medarbeider|noen|kundebehandler|kundeservice)"
    r"(?:r|er|ne|n)?\b"
    r"|^\s*(?:et\s+)?(?:ekte\s+)?(?:menneske|person)(?:,)?\s*(?:takk)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
# "Are you a human?" asks what the bot is, not for a person.
_ABOUT_THE_BOT = re.compile(
    r"^\s*(?:are\s+you|er\s+du)\s+(?:a\s+|an\s+|et\s+|en\s+)?(?:real\s+|ekte\s+)?"
    r"(?:human|person|menneske|bot|robot)\b",
    re.IGNORECASE,
)


def asks_for_person(message: str) -> bool:
    """True when the message asks to talk to a person (English or Norwegian)."""
    if _ABOUT_THE_BOT.search(message):
        return False
    return bool(_EN.search(message) or _NB.search(message))
