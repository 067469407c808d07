"""API models for reading, rating, deleting and exporting conversations."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chinwag.conversations.schemas import MessageOut
from chinwag.timestamps import UtcDatetime


class SessionOut(BaseModel):
    id: str = Field(description="The session id (as the client knows it).")
    user_id: str
    message_count: int
    created_at: UtcDatetime
    last_message_at: UtcDatetime


class SessionPage(BaseModel):
    sessions: list[SessionOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")


class TicketOfferOut(BaseModel):
    """The ticket form offered in this conversation and not filled in yet."""

    reason: Literal["after_hours", "no_one_claimed"]
    text: dict[str, str] = Field(description="What the visitor was told, by language.")
    consent: dict[str, str] = Field(description="The consent the form asks for, by language.")


class MessagePage(BaseModel):
    messages: list[MessageOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: end.")
    ticket_offer: TicketOfferOut | None = Field(
        None,
        description="The ticket form offered (nobody can answer live) while the conversation "
        "still waits and no ticket was left: the widget shows the form again after a reload.",
    )


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal[1, -1] = Field(description="+1 (helpful) or -1 (not helpful).")
    comment: str | None = Field(None, max_length=2000)


class FeedbackOut(BaseModel):
    message_id: str
    user_id: str
    rating: Literal[1, -1]
    comment: str | None
    updated_at: UtcDatetime


class DeletedOut(BaseModel):
    """What was deleted, per table."""

    deleted: dict[str, int]
