"""The OpenAI Responses API, the bot as the model: `POST /v1/responses`, `GET
/v1/responses/{id}` (stored, or its events again with `?stream=true&starting_after=N`) and
`POST /v1/responses/{id}/cancel` (background responses)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse

from chinwag.auth.principal import Principal
from chinwag.errors import (
    ChinwagError,
    InvalidRequest,
    ResponseNotCancellable,
    ResponseNotFound,
    ResponseWrittenElsewhere,
    StreamEventsPurged,
)
from chinwag.generations.sending import SENDERS, answer_events, send_message
from chinwag.generations.service import NewMessage
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import Services, ServicesDep
from chinwag.openai_api.answers import Tally, naming_model
from chinwag.openai_api.refusals import refuse_unsupported
from chinwag.openai_api.response_events import (
    ResponseFacts,
    ResponseStream,
    frame,
    response_body,
)
from chinwag.openai_api.response_store import (
    StoredResponse,
    load_response,
    response_id,
    saver,
)
from chinwag.openai_api.responses_schemas import RESPONSES, ResponseCreate, read_input
from chinwag.openai_api.routes import default_user, may_list

router = APIRouter(prefix="/v1", tags=["openai"])
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
RESPONSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A `response` object, or with `stream: true` Server-Sent Events of the "
        "Responses API's typed events (`response.created` … `response.completed`).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/responses", responses=RESPONSE_DOC)
async def create_response(
    body: ResponseCreate, principal: PrincipalDep, services: ServicesDep
) -> Any:
    """The input's last user message goes through the bot's flows like any other message;
    `previous_response_id` continues that response's session."""
    with naming_model():
        principal.require_bot(body.model, kinds=SENDERS)
    refuse_unsupported(body.model_extra or {}, RESPONSES)
    read = read_input(body.input)
    if body.background and body.store is False:
        raise InvalidRequest(
            "a background response must be stored", param="store", hint="Leave out `store`."
        )
    session_id, user_id, seed = None, body.user, read.history
    if body.previous_response_id is not None:
        if read.history:
            raise InvalidRequest(
                "with `previous_response_id`, `input` holds only the new user message: the "
                "session keeps the conversation so far",
                param="input",
            )
        previous = await _owned(services, principal, body.previous_response_id, body)
        session_id, user_id = previous.session_id, previous.user_id
    request = {**body.stored(), "created_at": int(time.time())}  # the same in every view
    with naming_model():
        accepted = await send_message(
            services.generations,
            services.limiter,
            principal,
            NewMessage(
                bot_id=body.model,
                text=read.text,
                user_id=user_id,
                session_id=session_id,
                idempotency_key=None,
                body_hash="",
                seed=seed,
                sampling=body.sampling(),
                on_accepted=saver(request),
            ),
            user_field="`user`",
            default_user_id=default_user(principal),
        )
    facts = ResponseFacts(
        id=response_id(accepted.assistant_message_id),
        message_id=accepted.assistant_message_id,
        created_at=request["created_at"],
        request=request,
        user=accepted.user_id,
    )
    headers = {"X-Chinwag-Session-Id": accepted.session_id, "X-Chinwag-User-Id": accepted.user_id}
    if body.stream:
        return StreamingResponse(
            _events(services, accepted.stream_id, facts, after=-1),
            media_type="text/event-stream",
            headers={**headers, **STREAM_HEADERS},
        )
    if body.background:
        return JSONResponse(response_body(facts, status="in_progress"), headers=headers)
    tally = Tally()
    async for event in answer_events(await services.follow(accepted.stream_id)):
        tally.saw(event)
    failure = tally.failure()
    if failure is not None:
        raise failure
    cut = tally.cut_at(body.max_output_tokens)
    out = response_body(
        facts,
        status="incomplete" if cut else "completed",
        text=tally.text,
        usage=tally.usage,
        declined=tally.declined,
    )
    return JSONResponse(out, headers=headers)


@router.get("/responses/{response}", responses=RESPONSE_DOC)
async def get_response(
    response: str,
    principal: PrincipalDep,
    services: ServicesDep,
    stream: bool = False,
    starting_after: int | None = None,
) -> Any:
    """A stored response as it is now; with `stream=true` its events again, from the durable
    log, after `starting_after` (a `sequence_number`), live until it ends."""
    stored = await _visible(services, principal, response)
    facts = _facts(stored)
    if stream:
        if stored.stream_id is None:
            raise StreamEventsPurged(
                f"the events of response '{response}' were removed by retention",
                hint=f"Read the finished response: GET /v1/responses/{response}.",
            )
        after = -1 if starting_after is None else starting_after
        return StreamingResponse(
            _events(services, stored.stream_id, facts, after=after),
            media_type="text/event-stream",
            headers=STREAM_HEADERS,
        )
    return JSONResponse(stored_body(stored, facts))


@router.post("/responses/{response}/cancel")
async def cancel_response(response: str, principal: PrincipalDep, services: ServicesDep) -> Any:
    """Stop a background response being written; it ends `cancelled`, with the text so far."""
    stored = await _visible(services, principal, response)
    if not stored.request.get("background"):
        raise ResponseNotCancellable(f"response '{response}' is not a background response")
    if stored.status == "streaming" and stored.stream_id is not None:
        if await services.generations.cancel(stored.stream_id):
            async for _ in answer_events(await services.follow(stored.stream_id)):
                pass  # its end, written: the stored response says how it ended
        stored = await _visible(services, principal, response)
        if stored.status == "streaming":
            raise ResponseWrittenElsewhere(
                f"response '{response}' is being written by another worker"
            )
    return JSONResponse(stored_body(stored, _facts(stored)))


def stored_body(stored: StoredResponse, facts: ResponseFacts) -> dict[str, Any]:
    """A stored response: its status from its message's."""
    if stored.status == "streaming":
        return response_body(facts, status="in_progress")
    if stored.status == "complete":
        longest = stored.request["max_output_tokens"]
        cut = longest is not None and stored.main_tokens >= longest
        return response_body(
            facts,
            status="incomplete" if cut else "completed",
            text=stored.text,
            usage=stored.usage,
            declined=stored.declined,
        )
    code = stored.error_code or "generation_failed"
    cancelled = code == "response_cancelled"
    error = None
    if not cancelled:
        hint = hint_for(code)
        error = {"code": code, "message": f"the answer failed with `{code}`. {hint}", "hint": hint}
    return response_body(
        facts,
        status="cancelled" if cancelled else "failed",
        text=stored.text,
        usage=stored.usage,
        error=error,
    )


def hint_for(code: str) -> str:
    """The catalogue's hint for an error code (errors.py), for a stored failure."""
    found: list[type[ChinwagError]] = [ChinwagError]
    while found:
        kind = found.pop()
        if kind.code == code:
            return kind.default_hint
        found.extend(kind.__subclasses__())
    return ChinwagError.default_hint


def _facts(stored: StoredResponse) -> ResponseFacts:
    return ResponseFacts(
        id=stored.id,
        message_id=stored.message_id,
        created_at=stored.request.get("created_at", int(stored.created_at.timestamp())),
        request=stored.request,
        user=stored.user_id,
    )


async def _events(
    services: Services, stream_id: str, facts: ResponseFacts, *, after: int
) -> AsyncIterator[bytes]:
    """The response's events from its answer's whole log, those after `after` sent."""
    translated = ResponseStream(facts)
    async for event in answer_events(await services.follow(stream_id)):
        for out in translated.events(event):
            if out["sequence_number"] > after:
                yield frame(out)


async def _visible(
    services: Services, principal: Principal, response: str, *, param: str | None = None
) -> StoredResponse:
    """The stored response, if the caller may see it: its bot's keys, or its own end user."""
    may_list(principal)
    async with services.db.read() as conn:
        stored = await load_response(conn, response, param=param)
    if not stored.request.get("store", True) or not principal.may_read(
        bot_id=stored.bot_id, user_id=stored.user_id
    ):
        raise ResponseNotFound(f"response '{response}' does not exist", param=param)
    return stored


async def _owned(
    services: Services, principal: Principal, previous: str, body: ResponseCreate
) -> StoredResponse:
    """The previous response, of this bot and of the same end user (else 404, as if it did
    not exist: another user's response is never continued, nor shown to exist)."""
    stored = await _visible(services, principal, previous, param="previous_response_id")
    same_user = body.user is None or body.user == stored.user_id
    if stored.bot_id != body.model or not same_user:
        raise ResponseNotFound(
            f"response '{previous}' does not exist", param="previous_response_id"
        )
    return stored
