"""`POST /v1/chat/completions` and `GET /v1/models[/{id}]`, on the same accept and generation
path as every message."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse

from chinwag.auth.principal import Principal
from chinwag.bots.service import get_bot_version, list_bots
from chinwag.conversations.service import Accepted, Turn
from chinwag.errors import Forbidden, InvalidRequest
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.generations.sending import SENDERS, answer_events, send_message
from chinwag.generations.service import NewMessage
from chinwag.http.deps import PrincipalDep
from chinwag.http.problems import openai_body
from chinwag.http.runtime import Services, ServicesDep
from chinwag.openai_api.answers import Tally, failed, naming_model
from chinwag.openai_api.refusals import CHAT, refuse_parts, refuse_unsupported
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
from chinwag.providers.protocols import Sampling
from chinwag.streams.events import MessageDelta

router = APIRouter(prefix="/v1", tags=["openai"])
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON (a chat.completion), or with `stream: true` Server-Sent Events of "
        "chat.completion.chunk objects ending with `data: [DONE]`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def may_list(principal: Principal) -> None:
    if principal.kind == "publishable":
        raise Forbidden("a publishable key only gets end-user tokens")


@router.get("/models", response_model=ModelList)
async def models(principal: PrincipalDep, services: ServicesDep) -> ModelList:
    """The bots the caller may chat with, as OpenAI models (`id` = bot id)."""
    may_list(principal)
    async with services.db.read() as conn:
        bots = await list_bots(conn)
    return ModelList(
        data=[
            ModelOut(id=b.id, created=0)
            for b in bots
            if principal.kind == "admin" or b.id == principal.bot_id
        ]
    )


@router.get("/models/{model_id}", response_model=ModelOut)
async def model(model_id: str, principal: PrincipalDep, services: ServicesDep) -> ModelOut:
    """One bot the caller may chat with, as an OpenAI model."""
    may_list(principal)
    with naming_model():
        principal.require_bot(model_id, kinds=SENDERS)
        async with services.db.read() as conn:
            await get_bot_version(conn, model_id)
    return ModelOut(id=model_id, created=0)


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

    Without `X-Chinwag-Session-Id` the earlier user and assistant messages are the history:
    the end user's session holding exactly them continues, else a new one opens with them.
    With the header, that session continues and its stored history is used.
    """
    with naming_model():  # who may ask comes before what is asked
        principal.require_bot(body.model, kinds=SENDERS)
    refuse_unsupported(body.model_extra or {}, CHAT)
    refuse_parts(
        [
            (f"messages[{i}].content[{j}]", part.type)
            for i, m in enumerate(body.messages)
            if isinstance(m.content, list)
            for j, part in enumerate(m.content)
            if part.type != "text"
        ]
    )
    last = body.messages[-1]
    if last.role != "user" or not last.text().strip():
        raise InvalidRequest(
            "the last message must be the user's, with text",
            hint="End `messages` with {'role': 'user', 'content': '…'}.",
            param=f"messages[{len(body.messages) - 1}]",
        )
    seed: tuple[Turn, ...] = ()
    if x_chinwag_session_id is None:
        seed = tuple(
            Turn(role=m.role, content=m.text())
            for m in body.messages[:-1]
            if m.role in ("user", "assistant") and m.text()
        )
    with naming_model():
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
                sampling=body.sampling(),
            ),
            user_field="`user`",
            default_user_id=default_user(principal),
        )
    headers = {"X-Chinwag-Session-Id": accepted.session_id, "X-Chinwag-User-Id": accepted.user_id}
    created = int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return StreamingResponse(
            _chunks(services, accepted, body.model, created, include_usage, body.sampling()),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    longest = body.sampling().max_tokens
    tally = Tally()
    async for event in answer_events(await services.follow(accepted.stream_id)):
        tally.saw(event)
    failure = tally.failure()
    if failure is not None:
        raise failure
    out = ChatCompletionOut(
        id=f"chatcmpl-{accepted.assistant_message_id}",
        created=created,
        model=body.model,
        choices=[
            Choice(
                message=ChatMessageOut(content=tally.text),
                finish_reason="length" if tally.cut_at(longest) else "stop",
            )
        ],
        usage=CompletionUsage(**tally.usage.model_dump()),
        declined=tally.declined,
    )
    return JSONResponse(out.model_dump(), headers=headers)


def default_user(principal: Principal) -> str:
    """The end user of a key's requests that name none: one per key."""
    return f"openai-{principal.key_id[:8]}"


async def _chunks(
    services: Services,
    accepted: Accepted,
    model: str,
    created: int,
    include_usage: bool,
    sampling: Sampling,
) -> AsyncIterator[bytes]:
    """The answer as OpenAI streams it: a role chunk, content chunks, the finish chunk, and
    with `include_usage` one last chunk with empty `choices` and the usage (only there: the
    others then say `"usage": null`, as OpenAI's do)."""
    completion_id = f"chatcmpl-{accepted.assistant_message_id}"

    def frame(payload: dict[str, Any]) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    no_usage = {"usage": None} if include_usage else {}

    def part(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        made = chunk(
            completion_id=completion_id, created=created, model=model, delta=delta, finish=finish
        )
        return {**made, **no_usage}

    tally = Tally()
    yield frame(part({"role": "assistant", "content": ""}))
    async for event in answer_events(await services.follow(accepted.stream_id)):
        tally.saw(event)
        if isinstance(event, MessageDelta):
            yield frame(part({"content": event.text}))
    if tally.error is not None:
        yield frame(openai_body(failed(tally.error)))
    elif tally.finished:
        finish = "length" if tally.cut_at(sampling.max_tokens) else "stop"
        yield frame({**part({}, finish), "declined": tally.declined})
        if include_usage:
            yield frame({**part({}), "choices": [], "usage": tally.usage.model_dump()})
    yield b"data: [DONE]\n\n"
