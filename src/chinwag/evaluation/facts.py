"""Whether a prompt holds a fact: both are compared after one normalisation, so that "1 200",
"1,200" and "1200" are the same fact, and so are two times joined by an en dash or a hyphen."""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPACES = "\u00a0\u2007\u2009\u202f"  # no-break, figure, thin and narrow no-break spaces
_THOUSANDS = re.compile(rf"(?<=\d)[ ,.{_SPACES}](?=\d{{3}}(?!\d))")
_DASH_BETWEEN_NUMBERS = re.compile(r"(?<=\d)\s*[-\u2013]\s*(?=\d)")
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, one space for any run of whitespace, no thousands separators ("1 200",
    "1,200", "1.200" -> "1200"), "-" for the unicode minus and for a dash between numbers."""
    text = text.casefold().replace("\u2212", "-")
    text = _THOUSANDS.sub("", text)
    text = _DASH_BETWEEN_NUMBERS.sub("-", text)
    return _WHITESPACE.sub(" ", text).strip()


def missing_facts(facts: Sequence[str], text: str, *, besides: str = "") -> list[str]:
    """The facts that `text` does not hold, `besides` (the question itself) taken out of it
    first: a fact the customer wrote is not context. A fact that begins or ends with a digit
    is found only as a whole number ("18" is not in "2018" or "18,5")."""
    haystack = normalise(text)
    question = normalise(besides)
    if question:
        haystack = haystack.replace(question, " ")
    return [fact for fact in facts if not _holds(haystack, normalise(fact))]


def _holds(haystack: str, fact: str) -> bool:
    if not fact:
        return True
    before = r"(?<!\d)(?<!\d[.,])" if fact[0].isdigit() else ""
    after = r"(?!\d)(?![.,]\d)" if fact[-1].isdigit() else ""
    return re.search(before + re.escape(fact) + after, haystack) is not None
