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
    HandoffWaiting | HandoffClaimed | HandoffReleased | HandoffClosed | MessageCreated,
    Field(discriminator="type"),
]
SESSION_EVENT_ADAPTER: TypeAdapter[SessionEvent] = TypeAdapter(SessionEvent)
