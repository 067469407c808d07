"""Correcting the answer policy from a declined answer: the owner says the message was the
bot's business, and it joins `policy.in_scope` in a new, active bot version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from chinwag.bots.activation import check_document, valid_config
from chinwag.bots.models import Bot
from chinwag.bots.service import BotVersion, config_json, put_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import ChatSession, Message
from chinwag.db.uow import Database
from chinwag.errors import (
    BotNotFound,
    DeclinedAsUnanswerable,
    MessageAlreadyInScope,
    MessageNotDeclined,
    MessageNotFound,
)

NOTE_CHARS = 80  # of the message, in the new version's note


@dataclass(frozen=True, slots=True)
class InScope:
    """The new active version whose `policy.in_scope` holds `message`."""

    saved: BotVersion
    previous_version: int
    message: str


async def mark_in_scope(db: Database, *, bot_id: str, message_id: str) -> InScope:
    """Add the visitor's message that `message_id` (a declined answer) declined as out of scope
    to the bot's `policy.in_scope`, validated and saved as a new active version.

    One write transaction, the bot's row locked first: a concurrent change of the bot is
    neither lost nor overwritten."""
    async with db.write() as conn:
        active = (
            await conn.execute(
                select(Bot.version, Bot.config).where(Bot.id == bot_id).with_for_update()
            )
        ).first()
        if active is None:
            raise BotNotFound(f"bot '{bot_id}' does not exist")
        message = await declined_question(conn, bot_id=bot_id, message_id=message_id)
        current = BotConfig.model_validate(active.config)
        if message in current.answer_policy.in_scope:
            raise MessageAlreadyInScope(
                f"version {active.version} of bot '{bot_id}' already has this message in "
                "policy.in_scope"
            )
        config = valid_config(check_document(config_json(with_in_scope(current, message))))
        note = f"in scope: {message[:NOTE_CHARS]}" + ("…" if len(message) > NOTE_CHARS else "")
        saved = await put_bot(conn, config, note=note)
    return InScope(saved, active.version, message)


def with_in_scope(config: BotConfig, message: str) -> BotConfig:
    """The configuration with `message` in `policy.in_scope` (and out of the owner's own
    `policy.out_of_scope`, where it would contradict itself); the policy's mode is kept."""
    policy = config.answer_policy
    corrected = policy.model_copy(
        update={
            "in_scope": [*policy.in_scope, message],
            "out_of_scope": [m for m in policy.out_of_scope if m != message],
        }
    )
    return config.model_copy(update={"policy": corrected})


async def declined_question(conn: AsyncConnection, *, bot_id: str, message_id: str) -> str:
    """The visitor's message that the bot's answer `message_id` declined as out of scope."""
    question = aliased(Message)
    row = (
        await conn.execute(
            select(Message.role, Message.declined, question.content)
            .join(ChatSession, ChatSession.id == Message.session_id)
            .outerjoin(question, question.id == Message.reply_to_id)
            .where(Message.id == message_id, ChatSession.bot_id == bot_id)
        )
    ).first()
    if row is None:
        raise MessageNotFound(f"bot '{bot_id}' has no message '{message_id}'")
    if row.role != "assistant":
        raise MessageNotDeclined(
            f"message '{message_id}' is a visitor's message, not one of the bot's answers",
            hint="Send the id of the bot's declined answer to it.",
        )
    if row.declined is None:
        raise MessageNotDeclined(f"the answer '{message_id}' was not declined")
    if row.declined != "out_of_scope":
        raise DeclinedAsUnanswerable(
            f"the answer '{message_id}' was declined as {row.declined}, not as out of scope"
        )
    if row.content is None:  # every answer replies to a message; a seeded history may not
        raise MessageNotDeclined(f"the answer '{message_id}' answers no visitor's message")
    return str(row.content)
