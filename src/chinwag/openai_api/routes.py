"""`POST /v1/chat/completions` and `GET /v1/models`, on the same accept and generation path."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse

from chinwag.auth.principal import Principal
from chinwag.bots.service import list_bots
from chinwag.conversations.service import Accepted, Turn
from chinwag.errors import (
    Forbidden,
    GenerationFailed,
    InvalidRequest,
    SessionNotFound,
    SessionOwnedByAnotherUser,
)
from chinwag.generations.service import NewMessage
from chinwag.http.deps import PrincipalDep
from chinwag.http.routes.messages import limit_end_user
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
from chinwag.streams.follow import open_stream

router = APIRouter(prefix="/v1", tags=["openai"])
# Their errors answer in OpenAI's shape ({"error": {message, type, code}}), which OpenAI's SDKs
# read; every other endpoint answers problem+json.
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/models"})
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
        str | None, Header(max_length=200, pattern=r"^[\w.:@-]+$")
    ] = None,
) -> Any:
    """The last user message goes through the bot's flows like any other message.

    Without `X-Chinwag-Session-Id` a new session opens with the earlier user and assistant
    messages as its history; with it, that session continues and its stored history is used.
    """
    principal.require_bot(body.model, kinds=("secret", "user"))
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
    user_id = _user_id(principal, body.user)
    if principal.kind != "admin":
        await limit_end_user(services, body.model, user_id)
    try:
        accepted = await services.generations.accept(
            NewMessage(
                bot_id=body.model,
                text=last.text(),
                user_id=user_id,
                session_id=x_chinwag_session_id,
                idempotency_key=None,
                body_hash="",
                seed=seed,
            )
        )
    except SessionOwnedByAnotherUser as exc:
        if principal.kind == "user":  # another visitor's session must not be seen to exist
            raise SessionNotFound(f"session '{x_chinwag_session_id}' does not exist") from exc
        raise
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
    async for event_type, data in _events(services, accepted):
        if event_type == "message.completed":
            text, usage = data["text"], CompletionUsage(**(data.get("usage") or {}))
        elif event_type == "error":
            raise _failed(data)
    out = ChatCompletionOut(
        id=f"chatcmpl-{accepted.assistant_message_id}",
        created=created,
        model=body.model,
        choices=[Choice(message=ChatMessageOut(content=text))],
        usage=usage,
    )
    return JSONResponse(out.model_dump(), headers=headers)


def _user_id(principal: Principal, requested: str | None) -> str:
    if principal.kind == "user":
        assert principal.user_id is not None
        if requested is not None and requested != principal.user_id:
            raise Forbidden("an end-user token chats only as its own user; leave out `user`")
        return principal.user_id
    return requested or f"openai-{principal.key_id[:8]}"


def _failed(data: dict[str, Any]) -> GenerationFailed:
    return GenerationFailed(
        data.get("message", "the answer failed"), error_code=data["code"], error_hint=data["hint"]
    )


async def _events(
    services: Services, accepted: Accepted
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The stream's events, parsed from its SSE frames, until `stream.completed`."""
    source = await open_stream(
        db=services.db,
        event_log=services.event_log,
        stream_id=accepted.stream_id,
        after=0,
        heartbeat_seconds=services.settings.sse_heartbeat_seconds,
    )
    try:
        async for batch in source.batches():
            for frame in batch.split(b"\n\n"):
                event_type, data = "", b""
                for line in frame.split(b"\n"):
                    if line.startswith(b"event: "):
                        event_type = line[7:].decode()
                    elif line.startswith(b"data: "):
                        data = line[6:]
                if event_type:
                    yield event_type, orjson.loads(data)
                if event_type == "stream.completed":
                    return
    finally:
        source.close()


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
    async for event_type, data in _events(services, accepted):
        if event_type == "message.delta":
            yield frame(part({"content": data["text"]}))
        elif event_type == "message.completed":
            usage = CompletionUsage(**(data.get("usage") or {})).model_dump()
            yield frame({**part({}, "stop"), "usage": usage})
            if include_usage:
                yield frame({**part({}), "choices": [], "usage": usage})
        elif event_type == "error":
            error = _failed(data)
            yield frame({"error": {**error.to_problem(), "message": error.message}})
    yield b"data: [DONE]\n\n"
