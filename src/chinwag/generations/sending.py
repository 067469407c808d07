"""Sending a message, in one place for every surface that chats (`POST /v1/bots/{bot}/messages`
and `POST /v1/chat/completions`): who may chat as whom, the end user's limits, the accept
transaction and the generation, then the answer's events, typed, for the caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from chinwag.auth.principal import Principal, PrincipalKind
from chinwag.auth.ratelimit import RateLimiter
from chinwag.conversations.service import Accepted
from chinwag.errors import Forbidden, SessionNotFound, SessionOwnedByAnotherUser, TooManyOpenStreams
from chinwag.generations.service import Generations, NewMessage
from chinwag.handoff.visitor import Held
from chinwag.streams.events import TERMINAL_TYPE, StreamEvent, parse_event
from chinwag.streams.sse import FrameSource

SENDERS: tuple[PrincipalKind, ...] = ("secret", "user")  # who may send a bot's end users' messages


async def send_message(
    generations: Generations,
    limiter: RateLimiter,
    principal: Principal,
    message: NewMessage,
    *,
    user_field: str = "user_id",
    default_user_id: str | None = None,
) -> Accepted:
    """Accept `message` for the caller and start its answer (409 `session_with_operator`
    when a person has the session)."""
    accepted = await send_or_hold(
        generations,
        limiter,
        principal,
        dataclasses.replace(message, hold=False),
        user_field=user_field,
        default_user_id=default_user_id,
    )
    assert isinstance(accepted, Accepted), "a message that is not held gets an answer"
    return accepted


async def send_or_hold(
    generations: Generations,
    limiter: RateLimiter,
    principal: Principal,
    message: NewMessage,
    *,
    user_field: str = "user_id",
    default_user_id: str | None = None,
) -> Accepted | Held:
    """Accept `message` for the caller and start its answer; with `message.hold`, a message
    to a session a person has is stored without one (`Held`).

    Admin and bot secret keys chat as any end user (`message.user_id`, else `default_user_id`,
    else a new anonymous one); an end-user token only as its own user. `user_field` is how the
    request names the end user, for the error that says so.
    """
    principal.require_bot(message.bot_id, kinds=SENDERS)
    user_id = message.user_id or default_user_id
    if principal.kind == "user":
        if message.user_id is not None and message.user_id != principal.user_id:
            raise Forbidden(f"an end-user token chats only as its own user; leave out {user_field}")
        user_id = principal.user_id
    if principal.kind != "admin":
        await limit_end_user(generations, limiter, message.bot_id, user_id)
    if message.decision is not None and message.decision.decision == "confirm" and user_id:
        # A confirmation makes a tool call: refused now when the end user may make none.
        await limiter.check_tool_call(message.bot_id, user_id)
    try:
        return await generations.accept(dataclasses.replace(message, user_id=user_id))
    except SessionOwnedByAnotherUser as exc:
        if principal.kind == "user":  # another visitor's session must not be seen to exist
            raise SessionNotFound(f"session '{message.session_id}' does not exist") from exc
        raise


async def limit_end_user(
    generations: Generations, limiter: RateLimiter, bot_id: str, user_id: str | None
) -> None:
    """Messages per end user, and answers being written at once for them (429 beyond)."""
    if user_id is None:  # a new anonymous user has sent nothing yet
        return
    limits = await limiter.for_bot(bot_id)
    await limiter.hit(limits.per_user, "end user", bot_id, user_id)
    if generations.open_for(bot_id, user_id) >= limits.open_streams_per_user:
        raise TooManyOpenStreams(
            f"end user '{user_id}' already has {limits.open_streams_per_user} answers being "
            "written",
            retry_after=1,
        )


async def answer_events(source: FrameSource) -> AsyncIterator[StreamEvent]:
    """The stream's events, typed, from the source's position until `stream.completed`."""
    try:
        async for entries in source.entries():
            for entry in entries:
                yield parse_event(entry.data)
                if entry.type == TERMINAL_TYPE:
                    return
    finally:
        source.close()
