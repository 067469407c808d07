"""The rows behind a Responses API response: its `openai_responses` row, written with the
message, and everything `GET /v1/responses/{id}` shows, read back with the owner's ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.conversations.models import ChatSession, EndUser, FlowRun, Message, OpenAIResponse
from chinwag.conversations.service import Accepted
from chinwag.errors import ResponseNotFound
from chinwag.providers.protocols import Usage
from chinwag.streams.models import Stream

PREFIX = "resp_"


def response_id(message_id: str) -> str:
    return f"{PREFIX}{message_id}"


def message_id_of(response: str, *, param: str | None = None) -> str:
    """The answer's message id inside a response id (404 for what is not one)."""
    if not response.startswith(PREFIX) or len(response) > len(PREFIX) + 36:
        raise ResponseNotFound(f"response '{response}' does not exist", param=param)
    return response[len(PREFIX) :]


def saver(request: dict[str, Any]) -> Any:
    """The `on_accepted` hook that writes the response's row with its message."""

    async def save(conn: AsyncConnection, accepted: Accepted) -> None:
        await conn.execute(
            insert(OpenAIResponse).values(message_id=accepted.assistant_message_id, request=request)
        )

    return save


@dataclass(frozen=True, slots=True)
class StoredResponse:
    message_id: str
    bot_id: str
    user_id: str  # the end user's external id
    session_id: str  # external id
    request: dict[str, Any]
    status: str  # the message's: streaming | complete | failed | interrupted
    text: str
    error_code: str | None
    declined: str | None
    created_at: datetime
    stream_id: str | None  # None: retention removed the stream
    usage: Usage  # every flow's LLM calls for this answer
    main_tokens: int  # what `main`'s LLM wrote

    @property
    def id(self) -> str:
        return response_id(self.message_id)


async def load_response(
    conn: AsyncConnection, response: str, *, param: str | None = None
) -> StoredResponse:
    """The response with this id, whoever owns it (the caller checks), or 404."""
    message_id = message_id_of(response, param=param)
    row = (
        await conn.execute(
            select(
                OpenAIResponse.request,
                Message.status,
                Message.content,
                Message.error_code,
                Message.declined,
                Message.created_at,
                ChatSession.bot_id,
                ChatSession.external_id.label("session_id"),
                EndUser.external_id.label("user_id"),
                Stream.id.label("stream_id"),
            )
            .join(Message, Message.id == OpenAIResponse.message_id)
            .join(ChatSession, ChatSession.id == Message.session_id)
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .outerjoin(Stream, Stream.message_id == Message.id)
            .where(OpenAIResponse.message_id == message_id)
        )
    ).first()
    if row is None:
        raise ResponseNotFound(f"response '{response}' does not exist", param=param)
    runs = await conn.execute(
        select(FlowRun.flow, FlowRun.usage).where(FlowRun.message_id == message_id)
    )
    prompt = completion = main = 0
    for flow, usage in runs:
        if usage:
            prompt += int(usage.get("prompt_tokens", 0))
            completion += int(usage.get("completion_tokens", 0))
            main = int(usage.get("completion_tokens", 0)) if flow == "main" else main
    return StoredResponse(
        message_id=message_id,
        bot_id=row.bot_id,
        user_id=row.user_id,
        session_id=row.session_id,
        request=row.request,
        status=row.status,
        text=row.content,
        error_code=row.error_code,
        declined=row.declined,
        created_at=row.created_at,
        stream_id=row.stream_id,
        usage=Usage.of(prompt, completion),
        main_tokens=main,
    )
