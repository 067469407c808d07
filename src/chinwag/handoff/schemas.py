"""API models of the handoff endpoints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chinwag.auth.schemas import EMAIL_PATTERN
from chinwag.conversations.schemas import MAX_MESSAGE_CHARS
from chinwag.handoff.events import HandoffState
from chinwag.timestamps import UtcDatetime


class HandoffOut(BaseModel):
    """A session's handoff state after a request or an operator's action."""

    session_id: str
    state: HandoffState
    operator: str | None = Field(None, description="The display name of who claimed it.")
    text: str | None = Field(
        None,
        description="For a visitor's request: what to show them (a person will join, or, "
        "outside the bot's handoff.hours, leave an email).",
    )
    within_hours: bool | None = None
    events_url: str = Field(description="The session's events (SSE), resumable by seq.")


class HeldOut(BaseModel):
    """A visitor's message to a session a person has (or is asked for): stored, no bot answer;
    the person's reply comes on the session's events."""

    bot_id: str
    user_id: str
    session_id: str
    user_message_id: str
    handoff: Literal["waiting", "claimed"]
    events_url: str
    replayed: bool


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Shown to the visitor; unset: the key's name.",
    )


class OperatorMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)


class OperatorMessageOut(BaseModel):
    message_id: str
    session_id: str
    seq: int = Field(description="The message.created event's seq on the session's events.")
    replayed: bool = Field(
        False, description="A retry with the same Idempotency-Key: nothing new was stored."
    )


class TypingOut(BaseModel):
    """Whether the typing signal went to the session's followers."""

    signalled: bool = Field(
        description="False: this side signalled less than 2 s ago (the indicator still "
        "shows), or nobody has the conversation; send again while typing."
    )


class WaitingOut(BaseModel):
    session_id: str
    user_id: str
    state: HandoffState
    requested_by: str | None
    requested_at: UtcDatetime | None
    operator: str | None
    last_message: str | None


class WaitingPage(BaseModel):
    handoffs: list[WaitingOut]


class InboxItem(BaseModel):
    """A conversation in the console's inbox."""

    bot_id: str
    session_id: str
    user_id: str
    user_name: str | None = Field(description="The end user's display name or email, if known.")
    state: HandoffState
    requested_by: str | None
    requested_at: UtcDatetime | None
    operator: str | None = Field(description="The display name of who claimed it.")
    mine: bool = Field(description="Claimed by the caller (this operator, or this key).")
    last_message: str | None = Field(description="The visitor's last message.")
    last_message_at: UtcDatetime | None
    updated_at: UtcDatetime
    ticket_offered: bool = Field(
        description="The visitor was offered the email form (after hours, or nobody claimed)."
    )


class InboxTicket(BaseModel):
    """A visitor's email left when nobody could answer live."""

    bot_id: str
    session_id: str
    email: str
    reason: Literal["after_hours", "no_one_claimed"]
    created_at: UtcDatetime


class InboxOut(BaseModel):
    """Every conversation the caller may answer that waits, is claimed, or was closed lately."""

    waiting: list[InboxItem] = Field(description="Longest waiting first (at most 200).")
    claimed: list[InboxItem] = Field(description="Claimed by anyone; `mine` marks the caller's.")
    closed: list[InboxItem] = Field(description="The 50 most recently closed.")
    waiting_count: int
    mine_count: int
    tickets: list[InboxTicket] = Field(description="The 50 latest tickets, newest first.")


class DeliveryOut(BaseModel):
    """One handoff webhook notice: its outcome so far, and the body that was signed."""

    id: str = Field(description="Sent as X-Chinwag-Delivery: the same on every attempt.")
    event: str
    session_id: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_http_status: int | None
    last_error: str | None = Field(description="The stable code of the last failure.")
    last_detail: str | None
    created_at: UtcDatetime
    next_attempt_at: UtcDatetime | None = Field(description="When a pending one is tried again.")
    delivered_at: UtcDatetime | None
    body: dict[str, Any]


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    consent: bool = Field(description="The visitor ticked the consent box (required).")
    language: Literal["en", "nb"] = Field(
        "en", description="The language of the consent the visitor read (kept with the ticket)."
    )


class TicketCreatedOut(BaseModel):
    ticket_id: str
    text: str = Field(description="What to tell the visitor, in their language.")


class TicketOut(BaseModel):
    id: str
    session_id: str
    email: str
    consent_text: str = Field(description="The consent the visitor gave, word for word.")
    reason: Literal["after_hours", "no_one_claimed"]
    created_at: UtcDatetime


class TicketPage(BaseModel):
    tickets: list[TicketOut]


class HandoffStats(BaseModel):
    """Handoffs from `since` to `until`, across the caller's bots or for `bot_id`."""

    bot_id: str | None = Field(description="The bot counted; null: all the caller's bots.")
    since: UtcDatetime
    until: UtcDatetime
    days: int = Field(description="The window's length in days (rounded up).")
    conversations_resolved_by_the_bot: int = Field(
        description="Conversations in the window that never asked for a person."
    )
    conversations: int = Field(description="Conversations with a message in the window.")
    conversations_with_handoff: int = Field(description="Of them, those that asked for a person.")
    handoff_rate: float | None = Field(description="conversations_with_handoff / conversations.")
    requests: int = Field(description="Requests for a person (a conversation may ask again).")
    answered_by_a_person: int = Field(description="Requests a person replied to.")
    first_reply_p50_seconds: float | None = Field(
        description="From the request to a person's first message: the median."
    )
    first_reply_p95_seconds: float | None = Field(description="… and the 95th percentile.")
    handed_back: int = Field(description="Handoffs handed back to the bot.")
    closed_by_a_person: int = Field(description="Handoffs a person closed.")
    tickets: int = Field(description="Emails visitors left when nobody could answer live.")
