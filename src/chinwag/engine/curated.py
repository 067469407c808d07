"""A curated answer that matched a message: served as the answer, or given to `main`."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from chinwag.config.bot import BotConfig
from chinwag.providers.protocols import ChatMessage
from chinwag.streams.events import CuratedMark, Source

CuratedMode = Literal["answer", "prefer"]


@dataclass(frozen=True, slots=True)
class CuratedMatch:
    id: str
    question: str
    answer: str
    score: float  # cosine similarity of the message to the curated question
    sources: list[dict[str, Any]] = field(default_factory=list)  # [{title, url}]

    def mark(self, mode: CuratedMode) -> CuratedMark:
        return CuratedMark(id=self.id, question=self.question, score=self.score, mode=mode)

    def cited(self) -> list[Source]:
        """The curated sources as an answer's sources (document: the URL, else the title)."""
        return [
            Source(
                document=s.get("url") or s["title"],
                title=s["title"],
                url=s.get("url"),
                score=self.score,
                snippet="",
            )
            for s in self.sources
        ]

    def as_context(self) -> ChatMessage:
        """What `main` sees in `prefer` mode: the approved answer, to use in its own words."""
        return ChatMessage(
            "system",
            "The shop has approved this answer to a question like the customer's; base your "
            f"answer on it.\nQuestion: {self.question}\nApproved answer: {self.answer}",
        )


# Find the curated answer closest to a message (None: nothing above the bot's threshold).
CuratedLookup = Callable[[BotConfig, str], Awaitable[CuratedMatch | None]]

_PIECE = re.compile(r".*?(?:[.!?]+\s+|\n+|$)", re.DOTALL)


def answer_pieces(text: str) -> list[str]:
    """The curated text as message.delta pieces, sentence by sentence ("".join gives it back)."""
    return [piece for piece in _PIECE.findall(text) if piece]
