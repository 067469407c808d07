"""HTTP routes of the human handoff: a visitor asks for a person; an operator (signed in by
email and password, or a bot secret or admin key, or a console session of one) lists, claims,
answers, hands back or closes; both follow the session's events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request

from chinwag.auth.principal import Principal, PrincipalKind
from chinwag.bots.service import get_bot
from chinwag.conversations.history import visible_session
from chinwag.conversations.service import request_hash
from chinwag.db.base import utcnow
from chinwag.errors import Forbidden, HandoffNotEnabled, InvalidRequest
from chinwag.handoff import service, tickets
from chinwag.handoff.deliveries import list_deliveries
from chinwag.handoff.follow import SessionFollower, publish
from chinwag.handoff.idempotency import earlier_message, remember, seq_of
from chinwag.handoff.inbox import InboxFeed, inbox
from chinwag.handoff.queue import acting_as, claimer, list_handoffs
from chinwag.handoff.schemas import (
    ClaimIn,
    DeliveryPage,
    HandoffOut,
    HandoffStats,
    InboxOut,
    OperatorMessageIn,
    OperatorMessageOut,
    TypingOut,
    WaitingPage,
)
from chinwag.handoff.stats import handoff_stats
from chinwag.handoff.texts import handoff_reply
from chinwag.handoff.typing_signals import SessionFeed, Typing
from chinwag.http.days import LastDay, day_query
from chinwag.http.deps import PrincipalDep, still_allowed
from chinwag.http.runtime import Services, ServicesDep
from chinwag.streams.sse import SSEResponse

router = APIRouter(prefix="/v1", tags=["handoff"])
VISITORS: tuple[PrincipalKind, ...] = ("secret", "user")  # an end user's token, or the site
OPERATORS: tuple[PrincipalKind, ...] = ("secret", "operator")  # and admin keys
FOLLOWERS: tuple[PrincipalKind, ...] = (*VISITORS, "operator")
SESSION = "/bots/{bot_id}/sessions/{session_id}"


def sse_event(data: str) -> dict[str, Any]:
    """An SSE event as a client parses it (`id`, `event`, `data`, `retry`); `data` says what
    its JSON is."""
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "event": {"type": "string"},
            "data": {"type": "string", "description": data},
            "retry": {"type": "integer"},
        },
        "required": ["data"],
    }


EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The session's events after the given seq, then live ones (handoff.* "
        "and message.created; see docs/api.md), and `typing` events without `id` (not in the "
        "log, never replayed).",
        "content": {"text/event-stream": {"schema": sse_event("the event's JSON, with its type")}},
    },
}


def _events_url(bot_id: str, session_id: str) -> str:
    return f"/v1/bots/{bot_id}/sessions/{session_id}/events"


def _out(bot_id: str, session_id: str, state: str, **more: Any) -> HandoffOut:
    return HandoffOut(
        session_id=session_id,
        state=state,
        events_url=_events_url(bot_id, session_id),
        **more,
    )


@router.post(f"{SESSION}/handoff", response_model=HandoffOut)
async def ask_for_person(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> HandoffOut:
    """The visitor asks for a person (the widget's button): the session waits for an operator
    and the bot stays silent; `text` says what happens next. Again while waiting: no change."""
    principal.require_bot(bot_id, kinds=VISITORS)
    now = utcnow()
    async with services.db.write() as conn:
        bot = (await get_bot(conn, bot_id)).config
        if not bot.handoff.enabled:
            raise HandoffNotEnabled(f"bot '{bot_id}' does not hand conversations to people")
        session = await visible_session(conn, principal, bot_id, session_id)
        text, within = handoff_reply(bot, "", now)
        state, events = await tickets.ask_for_person(
            conn, bot=bot, session_pk=session.id, by="button", within_hours=within, now=now
        )
    await publish(services.event_log.fanout, session.id, events)
    return _out(bot_id, session_id, state, text=text, within_hours=within)


@router.get("/bots/{bot_id}/handoffs", response_model=WaitingPage)
async def handoffs(
    bot_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    state: Literal["waiting", "claimed", "closed"] = "waiting",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> WaitingPage:
    """The bot's conversations waiting for a person (or claimed, or closed), oldest first."""
    principal.require_bot(bot_id, kinds=OPERATORS)
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        return WaitingPage(handoffs=await list_handoffs(conn, bot_id, state, limit=limit))


def _require_operator(principal: Principal) -> None:
    if principal.kind not in ("admin", *OPERATORS):
        raise Forbidden("the inbox is for operators, admin keys and bot secret keys")


@router.get("/handoffs", response_model=InboxOut)
async def handoff_inbox(principal: PrincipalDep, services: ServicesDep) -> InboxOut:
    """The caller's inbox across their bots: waiting, claimed (`mine` marks theirs) and
    recently closed conversations."""
    _require_operator(principal)
    async with services.db.read() as conn:
        return await inbox(conn, principal)


@router.get("/handoffs/stats", response_model=HandoffStats)
async def handoff_statistics(
    principal: PrincipalDep,
    services: ServicesDep,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    bot_id: Annotated[str | None, Query(max_length=64, description="One bot; unset: all.")] = None,
    since: Annotated[
        date | None, day_query("First day (UTC) instead of `days`; with `until`.")
    ] = None,
    until: LastDay = None,
) -> HandoffStats:
    """Handoff rate, time to a person's first reply (p50, p95), how conversations and
    handoffs ended, and tickets: over the last `days` days, or the days `since` to `until`
    (as the console's Analytics), across the caller's bots or for `bot_id`."""
    _require_operator(principal)
    now = utcnow()
    if since is None and until is None:
        start, end = now - timedelta(days=days), now
    else:
        last = until or now.date()
        first = since or last - timedelta(days=days - 1)
        if first > last or (last - first).days >= 366:
            raise InvalidRequest(
                f"the range {first} to {last} is not valid",
                hint="Pick since <= until, at most 366 days apart.",
            )
        start, end = day_start(first), day_start(last + timedelta(days=1))
    async with services.db.read() as conn:
        if bot_id is not None:
            principal.require_bot(bot_id, kinds=OPERATORS)
            await get_bot(conn, bot_id)
        return await handoff_stats(conn, principal, since=start, until=end, bot_id=bot_id)


def day_start(day: date) -> datetime:
    """Midnight UTC that starts `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


INBOX_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`inbox` events, each with the whole inbox (as GET /v1/handoffs), at "
        "once and whenever it changes.",
        "content": {
            "text/event-stream": {
                "schema": sse_event("the whole inbox as JSON, as GET /v1/handoffs (InboxOut)")
            }
        },
    },
}


@router.get(
    "/handoffs/events", responses=INBOX_DOC, response_model=None, response_class=SSEResponse
)
async def handoff_inbox_events(
    request: Request, principal: PrincipalDep, services: ServicesDep
) -> SSEResponse:
    """The inbox, live: an `inbox` event at once and on every change, on any worker. It ends
    when the caller's console session ends or their key is revoked."""
    _require_operator(principal)
    feed = InboxFeed(
        services.db,
        principal,
        services.settings.sse_heartbeat_seconds,
        still_allowed(request, principal),
    )
    return SSEResponse(services.drain.watch(feed), retry_ms=services.settings.sse_retry_ms)


@router.get("/bots/{bot_id}/webhook-deliveries", response_model=DeliveryPage)
async def webhook_deliveries(
    bot_id: str, principal: PrincipalDep, services: ServicesDep
) -> DeliveryPage:
    """The bot's latest 100 handoff webhook deliveries, newest first: status, attempts, the
    last error and the signed body (never the secret)."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        return DeliveryPage.model_validate({"deliveries": await list_deliveries(conn, bot_id)})


@router.post(f"{SESSION}/handoff/claim", response_model=HandoffOut)
async def claim(
    bot_id: str,
    session_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    body: ClaimIn | None = None,
) -> HandoffOut:
    """Take a waiting conversation: one claim wins, the others get 409 `handoff_not_waiting`."""
    principal.require_bot(bot_id, kinds=OPERATORS)
    now = utcnow()
    async with services.db.write() as conn:
        session = await service.find_session(conn, bot_id, session_id)
        acting = await acting_as(conn, principal, body.name if body else None)
        event = await service.claim(conn, session_pk=session["id"], acting=acting, now=now)
    await publish(services.event_log.fanout, session["id"], [event])
    return _out(bot_id, session_id, "claimed", operator=acting.name)


@router.post(f"{SESSION}/handoff/messages", response_model=OperatorMessageOut, status_code=201)
async def operator_message(
    bot_id: str,
    session_id: str,
    body: OperatorMessageIn,
    principal: PrincipalDep,
    services: ServicesDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> OperatorMessageOut:
    """The operator who claimed the conversation writes to the visitor. A retry with the same
    `Idempotency-Key` and body stores nothing and returns the same message (`replayed`)."""
    principal.require_bot(bot_id, kinds=OPERATORS)
    now = utcnow()
    async with services.db.write() as conn:
        session = await service.find_session(conn, bot_id, session_id)
        acting = await claimer(conn, principal, session)
        if idempotency_key is not None:
            body_hash = request_hash({"operator_message": body.message, "session": session_id})
            earlier = await earlier_message(
                conn, bot_id=bot_id, key=idempotency_key, body_hash=body_hash, now=now
            )
            if earlier is not None:
                seq = await seq_of(conn, session["id"], earlier)
                return OperatorMessageOut(
                    message_id=earlier, session_id=session_id, seq=seq, replayed=True
                )
        message_id, event = await service.add_message(
            conn, session_pk=session["id"], text=body.message, now=now, operator=acting
        )
        if idempotency_key is not None:
            await remember(conn, bot_id=bot_id, key=idempotency_key, message_id=message_id)
    await publish(services.event_log.fanout, session["id"], [event])
    return OperatorMessageOut(message_id=message_id, session_id=session_id, seq=event.seq)


@router.post(f"{SESSION}/handoff/typing", response_model=TypingOut, status_code=202)
async def operator_typing(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> TypingOut:
    """The operator who claimed the conversation is typing: the visitor's widget shows
    "<name> is typing…" for a few seconds. At most one signal per 2 s is sent on."""
    principal.require_bot(bot_id, kinds=OPERATORS)
    async with services.db.read() as conn:
        session = await service.find_session(conn, bot_id, session_id)
        acting = await claimer(conn, principal, session)
    service.may_answer(
        acting, session["state"], session["claimed_by_key"], session["claimed_by_operator"]
    )
    typing = Typing(who="operator", name=acting.name)
    return TypingOut(signalled=await services.typing.signal(session["id"], typing))


@router.post(f"{SESSION}/typing", response_model=TypingOut, status_code=202)
async def visitor_typing(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> TypingOut:
    """The visitor is typing, while a person has the conversation (or is asked for): the
    operator's inbox shows "typing…" for a few seconds. At most one signal per 2 s is sent
    on; without a person nothing is sent (`signalled` false)."""
    principal.require_bot(bot_id, kinds=VISITORS)
    async with services.db.read() as conn:
        session = await visible_session(conn, principal, bot_id, session_id)
        state = (await service.find_session(conn, bot_id, session_id))["state"]
    if state not in service.HELD:
        return TypingOut(signalled=False)
    return TypingOut(signalled=await services.typing.signal(session.id, Typing(who="visitor")))


async def _hand_back(
    bot_id: str, session_id: str, principal: Principal, services: Services, *, close: bool
) -> HandoffOut:
    principal.require_bot(bot_id, kinds=OPERATORS)
    now = utcnow()
    async with services.db.write() as conn:
        session = await service.find_session(conn, bot_id, session_id)
        acting = await acting_as(conn, principal, None)
        event = await service.hand_back(
            conn, session_pk=session["id"], acting=acting, now=now, close=close
        )
    await publish(services.event_log.fanout, session["id"], [event])
    return _out(bot_id, session_id, "closed" if close else "bot")


@router.post(f"{SESSION}/handoff/release", response_model=HandoffOut)
async def release(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> HandoffOut:
    """Hand the conversation back to the bot: it answers the visitor's next message."""
    return await _hand_back(bot_id, session_id, principal, services, close=False)


@router.post(f"{SESSION}/handoff/close", response_model=HandoffOut)
async def close(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> HandoffOut:
    """Close the conversation; a later message from the visitor is answered by the bot."""
    return await _hand_back(bot_id, session_id, principal, services, close=True)


@router.get(
    f"{SESSION}/events", responses=EVENTS_DOC, response_model=None, response_class=SSEResponse
)
async def session_events(
    bot_id: str,
    session_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    after: Annotated[int | None, Query(ge=0, description="Resume after this seq.")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> SSEResponse:
    """The session's events (handoff state changes, messages written while a person answers)
    after `Last-Event-ID` (or `?after=N`), then live ones; it stays open."""
    principal.require_bot(bot_id, kinds=FOLLOWERS)
    position = after or 0
    if last_event_id:
        if not last_event_id.isdigit():
            raise InvalidRequest(
                f"Last-Event-ID must be an event seq (a number), got '{last_event_id}'",
                hint="Send back the `id:` of the last event you received.",
            )
        position = int(last_event_id)
    async with services.db.read() as conn:
        session = await visible_session(conn, principal, bot_id, session_id)
    follower = SessionFollower(
        services.db,
        session.id,
        position,
        services.settings.sse_heartbeat_seconds,
        services.event_log.fanout,
    )
    feed = SessionFeed(follower, services.typing)
    return SSEResponse(services.drain.watch(feed), retry_ms=services.settings.sse_retry_ms)
