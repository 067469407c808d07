"""What a local embedding model is asked for: a text, or a part of one (a clause of a message).

A piece is (text, start, end), the characters [start, end) of the text; (text, 0, len(text)) is
the whole text. The router embeds a message and its clauses: a model that can pools each clause
from the message's own token vectors, so a message takes one forward pass, not one per clause.
"""

from __future__ import annotations

Piece = tuple[str, int, int]


def whole_piece(text: str) -> Piece:
    return (text, 0, len(text))


def whole(piece: Piece) -> bool:
    text, start, end = piece
    return start == 0 and end == len(text)


def piece_text(piece: Piece) -> str:
    """The piece's characters, for a model that embeds parts as texts of their own."""
    text, start, end = piece
    return text[start:end]
