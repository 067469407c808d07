"""Content words of a text, by stem: the lexical half of curated matching and table lookups.

Embeddings put "open on Sunday?" at 0.93 from "open on Saturday?" (all-MiniLM-L6-v2), closer
than real paraphrases; the words a question turns on (days, names, places) settle it.
"""

from __future__ import annotations

import re
from functools import lru_cache

WORD = re.compile(r"[^\W_]+", re.UNICODE)
STEM = 5  # "saturdays" and "opening" match "saturday" and "open"
_STOPWORDS_TEXT = """
    a an and any are as at be been but by can could did do does for from had has have how i if
    in is it its me my no not of on or our so than that the their them then there these they
    this to us was we were what when where which who why will with would you your yours
    please tell know want like get got just also about
    og i jeg du dere det den de er var har kan skal vil på til fra med for om av som en et ei
    hva når hvor hvordan hvem hvilken hvilke meg oss deg dem min mitt mine din ditt sin seg
    ikke nei ja så men eller at hvis også bare
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


@lru_cache(maxsize=4096)
def content_words(text: str) -> frozenset[str]:
    """The words that carry meaning, shortened to their stems."""
    words = (w.lower() for w in WORD.findall(text))
    return frozenset(w[:STEM] for w in words if w not in STOPWORDS and len(w) > 1)


def has_all_words(message: str, question: str) -> bool:
    """Every content word of `question` occurs in `message`: the same stem, or one is the
    start of the other ("open" and "opening")."""
    have = content_words(message)
    return all(occurs(word, have) for word in content_words(question))


def shared_words(text: str, question: str) -> int:
    """How many content words of `question` occur in `text`, counted as has_all_words does."""
    have = content_words(text)
    return sum(1 for word in content_words(question) if occurs(word, have))


def occurs(word: str, have: frozenset[str]) -> bool:
    """A content word is among `have`: the same stem, or one is the start of the other."""
    return word in have or any(w.startswith(word) or word.startswith(w) for w in have)
