"""Whether what `main` would be given supports an answer to the message, without an LLM call.

`main`'s material is its prompt without the message: the system prompt (an owner's facts often
live there), the retrieved passages and the table rows. Support adds how much of the message's
content words the best passage holds (0-1) and how close the best retrieved passage is in
meaning (cosine), less a little for each content word found nowhere in the material.

Calibrated on the dev splits of the six labelled sets (bench/answer_policy.py, bench/README.md):
at the default floor about 3 % of answerable questions are declined, and about a quarter of the
unanswerable ones. Words and similarity cannot tell most unanswerable questions from answerable
ones (some passage is always near, and paraphrases share few words); the policy's `check: llm`
asks the bot's model instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from chinwag.norwegian import with_glosses
from chinwag.words import content_words, occurs

UNKNOWN_PENALTY = 0.075  # per content word absent from the material, for at most four
# A bot without documents has no similarity: it counts as the median of in-scope questions.
NEUTRAL_SIMILARITY = 0.35
_PARAGRAPH = re.compile(r"\n\s*\n|(?<=[.!?])\s+(?=[A-ZÆØÅ])")


@dataclass(frozen=True, slots=True)
class Support:
    """How well the material supports an answer (about -0.3 to 2), and the figures behind it."""

    score: float
    coverage: float  # share of the message's content words in the best passage
    similarity: float | None  # the best retrieved passage's cosine similarity, if any
    unknown: int  # content words of the message found nowhere in the material

    def scores(self) -> dict[str, float]:
        found = {"support": self.score, "coverage": self.coverage, "unknown": float(self.unknown)}
        if self.similarity is not None:
            found["similarity"] = self.similarity
        return found


def support(
    message: str, passages: Sequence[str], similarities: Sequence[float | None] = ()
) -> Support:
    """Support for answering `message` from `passages` (each a chunk, a prompt paragraph)."""
    words = content_words(with_glosses(message))
    if not words:
        return Support(2.0, 1.0, None, 0)  # "hi!", "?": nothing to be unsupported
    held = [content_words(p) for p in passages]
    best = max((sum(occurs(w, h) for w in words) / len(words) for h in held), default=0.0)
    everything = frozenset().union(*held) if held else frozenset()
    unknown = sum(not occurs(w, everything) for w in words)
    known = [s for s in similarities if s is not None]
    similarity = max(known) if known else None
    near = similarity if similarity is not None else NEUTRAL_SIMILARITY
    score = best + near - UNKNOWN_PENALTY * min(unknown, 4)
    return Support(round(score, 4), round(best, 4), similarity, unknown)


def passages_of(text: str) -> list[str]:
    """A prompt's text as passages: its paragraphs and sentences."""
    return [p for p in _PARAGRAPH.split(text) if p.strip()]
