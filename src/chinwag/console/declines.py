"""Correcting the answer policy from a declined answer: the owner says the message was the
bot's business, and it joins `policy.in_scope` in a new, active bot version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.service import BotVersion
from chinwag.config.bot import BotConfig
from chinwag.console.corrections import corrected_answer, locked_bot, save_version, version_note
from chinwag.db.uow import Database
from chinwag.errors import (
    DeclinedAsUnanswerable,
    MessageAlreadyInScope,
    MessageNotDeclined,
)


@dataclass(frozen=True, slots=True)
class InScope:
    """The new active version whose `policy.in_scope` holds `message`."""

    saved: BotVersion
    previous_version: int
    message: str


async def mark_in_scope(db: Database, *, bot_id: str, message_id: str) -> InScope:
    """Add the visitor's message that `message_id` (a declined answer) declined as out of scope
    to the bot's `policy.in_scope`, validated and saved as a new active version, in one write
    transaction with the bot's row locked."""
    async with db.write() as conn:
        version, current = await locked_bot(conn, bot_id)
        message = await declined_question(conn, bot_id=bot_id, message_id=message_id)
        if message in current.answer_policy.in_scope:
            raise MessageAlreadyInScope(
                f"version {version} of bot '{bot_id}' already has this message in policy.in_scope"
            )
        changed = with_in_scope(current, message)
        saved = await save_version(conn, changed, version_note("in scope", message))
    return InScope(saved, version, message)


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
    row = await corrected_answer(
        conn,
        bot_id=bot_id,
        message_id=message_id,
        refusal=MessageNotDeclined,
        hint="Send the id of the bot's declined answer to it.",
    )
    if row.declined is None:
        raise MessageNotDeclined(f"the answer '{message_id}' was not declined")
    if row.declined != "out_of_scope":
        raise DeclinedAsUnanswerable(
            f"the answer '{message_id}' was declined as {row.declined}, not as out of scope"
        )
    return str(row.question)
