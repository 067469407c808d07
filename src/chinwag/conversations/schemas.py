"""API models for messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import RowMapping

from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.providers.protocols import Usage
from chinwag.streams.events import Source
from chinwag.timestamps import UtcDatetime

MAX_MESSAGE_CHARS = 32_000


class ConfirmIn(BaseModel):
    """The visitor's answer to a `tool.confirmation` event (docs/tools.md#confirmations)."""

    model_config = ConfigDict(extra="forbid")

    action_id: str = Field(min_length=1, max_length=36, description="The event's `action_id`.")
    decision: Literal["confirm", "cancel"] = Field(description="Make the call, or not.")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(
        min_length=1, max_length=MAX_MESSAGE_CHARS, description="What the end user wrote."
    )
    session_id: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="Continue (or start, if new) this session; omitted: a new session.",
    )
    user_id: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="The end user's id on the embedding site; omitted: a new anonymous user.",
    )
    confirm: ConfirmIn | None = Field(
        None,
        description="This message answers a `tool.confirmation` of the same session: the call "
        "is made (once, whoever else answers) or not; `message` is what the visitor clicked.",
    )


class AcceptedOut(BaseModel):
    """The ids of what an accepted message created; `replayed` when an idempotent retry."""

    bot_id: str
    user_id: str
    session_id: str
    user_message_id: str
    assistant_message_id: str
    stream_id: str
    stream_url: str
    replayed: bool


class PendingAction(BaseModel):
    """A call an answer asked the visitor to confirm, not answered yet: what its
    `tool.confirmation` event said (docs/tools.md#confirmations)."""

    action_id: str
    flow: str
    tool: str
    arguments: dict[str, Any] = Field(description="Redacted where the schema marks a secret.")
    text: str = Field(description="The question asked: what will be done.")


class Author(BaseModel):
    kind: Literal["visitor", "bot", "operator"]
    name: str | None = None


class MessageOut(BaseModel):
    id: str
    session_id: str
    role: Literal["user", "assistant"]
    content: str
    status: Literal["complete", "streaming", "interrupted", "failed"]
    error_code: str | None
    usage: Usage | None
    bot_version: int | None
    created_at: UtcDatetime
    finished_at: UtcDatetime | None
    citations: list[Source] = Field(
        default_factory=list, description="The sources an answer was given (with their URLs)."
    )
    declined: Literal["out_of_scope", "unanswerable"] | None = Field(
        None,
        description="Why the bot's answer policy declined this message (`content` is the "
        "bot's decline text, no LLM answered); null: it was not declined.",
    )

    author: Author | None = Field(
        None,
        description="Who wrote it: `visitor` (role user), `bot`, or an `operator` with their "
        "display name (an answer a person wrote during a handoff).",
    )
    pending_action: PendingAction | None = Field(
        None,
        description="An answer that asked to confirm a call the visitor has not answered yet "
        "(Confirm/Cancel to show again after a reload); null: none pending.",
    )

    @classmethod
    def from_row(
        cls,
        m: RowMapping | Mapping[str, Any],
        *,
        session_id: str,
        pending_action: PendingAction | None = None,
    ) -> MessageOut:
        """From a `messages` row (with `author_name` when it was read: an operator's answer);
        `session_id` is the session's external id."""
        skip = ("session_id", "citations", "author", "pending_action")
        own = {f: m[f] for f in cls.model_fields if f not in skip}
        operator = m.get("author_name")
        author = (
            Author(kind="operator", name=operator)
            if operator is not None
            else Author(kind="visitor" if m["role"] == "user" else "bot")
        )
        return cls(
            session_id=session_id,
            citations=m["citations"] or [],
            author=author,
            pending_action=pending_action,
            **own,
        )
