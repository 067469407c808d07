"""`POST /v1/chat/completions` and `GET /v1/models`, on the same accept and generation path."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse

from chinwag.bots.service import list_bots
from chinwag.conversations.service import Accepted, Turn
from chinwag.errors import Forbidden, GenerationFailed, InvalidRequest
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.generations.sending import SENDERS, answer_events, send_message
from chinwag.generations.service import NewMessage
from chinwag.http.deps import PrincipalDep
from chinwag.http.problems import openai_body
from chinwag.http.runtime import Services, ServicesDep
from chinwag.openai_api.schemas import (
    ChatCompletionIn,
    ChatCompletionOut,
    ChatMessageOut,
    Choice,
    CompletionUsage,
    ModelList,
    ModelOut,
    chunk,
)
from chinwag.streams.events import ErrorEvent, MessageCompleted, MessageDelta

router = APIRouter(prefix="/v1", tags=["openai"])
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON (a chat.completion), or with `stream: true` Server-Sent Events of "
        "chat.completion.chunk objects ending with `data: [DONE]`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get("/models", response_model=ModelList)
async def models(principal: PrincipalDep, services: ServicesDep) -> ModelList:
    """The bots the caller may chat with, as OpenAI models (`id` = bot id)."""
    if principal.kind == "publishable":
        raise Forbidden("a publishable key only gets end-user tokens")
    async with services.db.read() as conn:
        bots = await list_bots(conn)
    return ModelList(
        data=[
            ModelOut(id=b.id, created=0)
            for b in bots
            if principal.kind == "admin" or b.id == principal.bot_id
        ]
    )


@router.post("/chat/completions", response_model=ChatCompletionOut, responses=STREAM_DOC)
async def chat_completions(
    body: ChatCompletionIn,
    principal: PrincipalDep,
    services: ServicesDep,
    x_chinwag_session_id: Annotated[
        str | None, Header(max_length=EXTERNAL_ID_MAX_LENGTH, pattern=EXTERNAL_ID_PATTERN)
    ] = None,
) -> Any:
    """The last user message goes through the bot's flows like any other message.

    Without `X-Chinwag-Session-Id` a new session opens with the earlier user and assistant
    messages as its history; with it, that session continues and its stored history is used.
    """
    principal.require_bot(body.model, kinds=SENDERS)  # who may ask comes before what is asked
    last = body.messages[-1]
    if last.role != "user" or not last.text().strip():
        raise InvalidRequest(
            "the last message must be the user's, with text",
            hint="End `messages` with {'role': 'user', 'content': '…'}.",
        )
    seed: tuple[Turn, ...] = ()
    if x_chinwag_session_id is None:
        seed = tuple(
            Turn(role=m.role, content=m.text())
            for m in body.messages[:-1]
            if m.role in ("user", "assistant") and m.text()
        )
    accepted = await send_message(
        services.generations,
        services.limiter,
        principal,
        NewMessage(
            bot_id=body.model,
            text=last.text(),
            user_id=body.user,
            session_id=x_chinwag_session_id,
            idempotency_key=None,
            body_hash="",
            seed=seed,
        ),
        user_field="`user`",
        default_user_id=f"openai-{principal.key_id[:8]}",
    )
    headers = {"X-Chinwag-Session-Id": accepted.session_id, "X-Chinwag-User-Id": accepted.user_id}
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            _chunks(services, accepted, body.model, created, include_usage),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    text, usage = "", CompletionUsage()
    async for event in answer_events(await services.follow(accepted.stream_id)):
        if isinstance(event, MessageCompleted):
            text, usage = event.text, _usage(event)
        elif isinstance(event, ErrorEvent):
            raise _failed(event)
    out = ChatCompletionOut(
        id=f"chatcmpl-{accepted.assistant_message_id}",
        created=created,
        model=body.model,
        choices=[Choice(message=ChatMessageOut(content=text))],
        usage=usage,
    )
    return JSONResponse(out.model_dump(), headers=headers)


def _usage(completed: MessageCompleted) -> CompletionUsage:
    if completed.usage is None:
        return CompletionUsage()
    return CompletionUsage(**completed.usage.model_dump())


def _failed(error: ErrorEvent) -> GenerationFailed:
    return GenerationFailed(error.message, error_code=error.code, error_hint=error.hint)


async def _chunks(
    services: Services, accepted: Accepted, model: str, created: int, include_usage: bool
) -> AsyncIterator[bytes]:
    completion_id = f"chatcmpl-{accepted.assistant_message_id}"

    def frame(payload: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    def part(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return chunk(
            completion_id=completion_id, created=created, model=model, delta=delta, finish=finish
        )

    yield frame(part({"role": "assistant", "content": ""}))
    async for event in answer_events(await services.follow(accepted.stream_id)):
        if isinstance(event, MessageDelta):
            yield frame(part({"content": event.text}))
        elif isinstance(event, MessageCompleted):
            usage = _usage(event).model_dump()
            yield frame({**part({}, "stop"), "usage": usage})
            if include_usage:
                yield frame({**part({}), "choices": [], "usage": usage})
        elif isinstance(event, ErrorEvent):
            yield frame(openai_body(_failed(event)))
    yield b"data: [DONE]\n\n"
