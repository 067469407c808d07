"""The typed events of a session's log (`GET /v1/bots/{bot}/sessions/{session}/events`):
handoff state changes and the messages written while a person answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chinwag.timestamps import UtcDatetime

HandoffState = Literal["bot", "waiting", "claimed", "closed"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(_Event):
    name: str


class HandoffWaiting(_Event):
    """The visitor asked for a person (`button`: the API or widget; `words`: a message)."""

    type: Literal["handoff.waiting"] = "handoff.waiting"
    state: Literal["waiting"] = "waiting"
    requested_by: Literal["button", "words"]
    within_hours: bool


class HandoffClaimed(_Event):
    """An operator took the conversation: the bot is silent until it is handed back."""

    type: Literal["handoff.claimed"] = "handoff.claimed"
    state: Literal["claimed"] = "claimed"
    operator: Operator


class HandoffReleased(_Event):
    """Handed back to the bot: the visitor's next message gets the bot's answer."""

    type: Literal["handoff.released"] = "handoff.released"
    state: Literal["bot"] = "bot"


class HandoffClosed(_Event):
    type: Literal["handoff.closed"] = "handoff.closed"
    state: Literal["closed"] = "closed"


class TicketOffered(_Event):
    """Nobody can answer live (outside the opening hours, or nobody claimed in time): the
    visitor may leave an email address. The conversation stays in the queue."""

    type: Literal["handoff.ticket_offered"] = "handoff.ticket_offered"
    reason: Literal["after_hours", "no_one_claimed"]
    text: dict[str, str]  # what to tell the visitor, by language (en, nb)
    consent: dict[str, str]  # the consent the form asks for, by language


class TicketCreated(_Event):
    """The visitor left an email address: the shop answers by email; the handoff is closed."""

    type: Literal["ticket.created"] = "ticket.created"
    state: Literal["closed"] = "closed"
    ticket_id: str
    text: dict[str, str]


class MessageAuthorOut(_Event):
    kind: Literal["visitor", "operator", "bot"]
    name: str | None = None


class MessageCreated(_Event):
    """A message written while a person answers: the visitor's (stored, no bot answer) or an
    operator's."""

    type: Literal["message.created"] = "message.created"
    message_id: str
    role: Literal["user", "assistant"]
    author: MessageAuthorOut
    text: str
    created_at: UtcDatetime


SessionEvent = Annotated[
    HandoffWaiting
    | HandoffClaimed
    | HandoffReleased
    | HandoffClosed
    | MessageCreated
    | TicketOffered
    | TicketCreated,
    Field(discriminator="type"),
]
SESSION_EVENT_ADAPTER: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)
