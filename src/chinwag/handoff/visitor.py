"""A visitor's message and the handoff, in the transaction that accepts it: while a person has
the conversation (or is asked for) it is stored, put on the session's log and not answered;
a message asking for a person puts the session in the operators' queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.service import BotCache
from chinwag.config.bot import BotConfig
from chinwag.conversations.service import Accepted
from chinwag.db.base import utcnow
from chinwag.errors import SessionOwnedByAnotherUser, SessionWithOperator
from chinwag.handoff.asking import asks_for_person
from chinwag.handoff.idempotency import earlier_message, remember
from chinwag.handoff.service import add_message, find_session, held_state
from chinwag.handoff.texts import handoff_reply
from chinwag.handoff.tickets import ask_for_person
from chinwag.streams.events import LogEntry


@dataclass(frozen=True, slots=True)
class Held:
    """A visitor's message stored without a bot answer: a person answers (or is asked for)."""

    bot_id: str
    user_id: str  # external id
    session_id: str  # external id
    session_pk: str
    user_message_id: str
    state: str  # `waiting` or `claimed`
    replayed: bool
    event: LogEntry | None  # its `message.created` (None for a replay)


@dataclass(frozen=True, slots=True)
class PersonAsked:
    """The message asked for a person: the reply the bot gives instead of an answer."""

    reply: str
    within_hours: bool
    state: str


async def hold_if_with_person(
    conn: AsyncConnection,
    *,
    bot_id: str,
    session_id: str,
    user_id: str | None,
    text: str,
    idempotency_key: str | None,
    body_hash: str,
    hold: bool,
) -> Held | None:
    """Store the message without an answer when a person has its session (or is asked for);
    None: the bot answers. A caller that cannot take that (`hold` false) gets 409."""
    state = await held_state(conn, bot_id, session_id)
    if state is None:
        return None
    if not hold:
        raise SessionWithOperator(
            f"session '{session_id}' is with a person ({state}); the bot does not answer"
        )
    return await hold_message(
        conn,
        bot_id=bot_id,
        session_id=session_id,
        user_id=user_id,
        state=state,
        text=text,
        idempotency_key=idempotency_key,
        body_hash=body_hash,
        now=utcnow(),
    )


async def ask_if_asking(
    conn: AsyncConnection, bots: BotCache, accepted: Accepted, text: str, events: list[LogEntry]
) -> PersonAsked | None:
    """A message asking for a person, to a bot with handoff enabled, puts its session in the
    operators' queue (its event appended to `events`)."""
    if not asks_for_person(text):
        return None
    bot = await bots.get(conn, accepted.bot_id, accepted.bot_version)
    if not bot.handoff.enabled:
        return None
    return await ask_in_words(conn, bot, accepted.session_pk, text, events)


async def ask_in_words(
    conn: AsyncConnection, bot: BotConfig, session_pk: str, text: str, events: list[LogEntry]
) -> PersonAsked:
    """Put the session of a message that asks for a person in the operators' queue (its
    events appended to `events`): the built-in phrases, or the bot's learnt `handoff` flow."""
    now = utcnow()
    reply, within_hours = handoff_reply(bot, text, now)
    state, asked = await ask_for_person(
        conn, bot=bot, session_pk=session_pk, by="words", within_hours=within_hours, now=now
    )
    events.extend(asked)
    return PersonAsked(reply=reply, within_hours=within_hours, state=state)


async def hold_message(
    conn: AsyncConnection,
    *,
    bot_id: str,
    session_id: str,
    user_id: str | None,
    state: str,
    text: str,
    idempotency_key: str | None,
    body_hash: str,
    now: datetime,
) -> Held:
    """Store the visitor's message in the held session (once per Idempotency-Key)."""
    session = await find_session(conn, bot_id, session_id)
    if user_id is not None and session["user_external_id"] != user_id:
        raise SessionOwnedByAnotherUser(
            f"session '{session_id}' belongs to another user of bot '{bot_id}'"
        )

    def held(message_id: str, *, replayed: bool, event: LogEntry | None) -> Held:
        return Held(
            bot_id=bot_id,
            user_id=session["user_external_id"],
            session_id=session_id,
            session_pk=session["id"],
            user_message_id=message_id,
            state=state,
            replayed=replayed,
            event=event,
        )

    if idempotency_key is not None:
        earlier = await earlier_message(
            conn, bot_id=bot_id, key=idempotency_key, body_hash=body_hash, now=now
        )
        if earlier is not None:
            return held(earlier, replayed=True, event=None)
    message_id, event = await add_message(conn, session_pk=session["id"], text=text, now=now)
    if idempotency_key is not None:
        await remember(conn, bot_id=bot_id, key=idempotency_key, message_id=message_id)
    return held(message_id, replayed=False, event=event)
