"""What the console's corrections share (an out-of-scope decline, a route): the answer being
corrected and the visitor's message it replied to, the bot's active configuration locked for
the change, and the note of the new version."""

from __future__ import annotations

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from chinwag.bots.activation import check_document, valid_config
from chinwag.bots.models import Bot
from chinwag.bots.service import BotVersion, config_json, put_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import ChatSession, Message
from chinwag.errors import BotNotFound, ChinwagError, MessageNotFound

NOTE_CHARS = 80  # of the message, in the new version's note
NOTE_MAX = 200  # bot_versions.note


async def locked_bot(conn: AsyncConnection, bot_id: str) -> tuple[int, BotConfig]:
    """The bot's active version and configuration, its row locked until the transaction ends:
    a concurrent change of the bot is neither lost nor overwritten."""
    active = (
        await conn.execute(
            select(Bot.version, Bot.config).where(Bot.id == bot_id).with_for_update()
        )
    ).first()
    if active is None:
        raise BotNotFound(f"bot '{bot_id}' does not exist")
    return active.version, BotConfig.model_validate(active.config)


async def corrected_answer(
    conn: AsyncConnection,
    *,
    bot_id: str,
    message_id: str,
    refusal: type[ChinwagError],
    hint: str,
) -> Row[tuple[str | None, dict[str, object] | None, str]]:
    """The bot's answer `message_id` (its `declined` and `route`) with `question`, the
    visitor's message it replied to; `refusal` (with `hint`) for a visitor's message or an
    answer that replies to none."""
    question = aliased(Message)
    row = (
        await conn.execute(
            select(
                Message.role, Message.declined, Message.route, question.content.label("question")
            )
            .join(ChatSession, ChatSession.id == Message.session_id)
            .outerjoin(question, question.id == Message.reply_to_id)
            .where(Message.id == message_id, ChatSession.bot_id == bot_id)
        )
    ).first()
    if row is None:
        raise MessageNotFound(f"bot '{bot_id}' has no message '{message_id}'")
    if row.role != "assistant":
        raise refusal(
            f"message '{message_id}' is a visitor's message, not one of the bot's answers",
            hint=hint,
        )
    if row.question is None:  # every answer replies to a message; a seeded history may not
        raise refusal(f"the answer '{message_id}' answers no visitor's message")
    return row


async def save_version(conn: AsyncConnection, config: BotConfig, note: str) -> BotVersion:
    """`config`, validated as an import would be, saved as the bot's new active version."""
    return await put_bot(conn, valid_config(check_document(config_json(config))), note=note)


def version_note(what: str, message: str, outcome: str = "") -> str:
    """`what: <message, shortened>[ → outcome]`, at most NOTE_MAX characters."""
    shown = message[:NOTE_CHARS] + ("…" if len(message) > NOTE_CHARS else "")
    note = f"{what}: {shown}" + (f" → {outcome}" if outcome else "")
    return note if len(note) <= NOTE_MAX else note[: NOTE_MAX - 1] + "…"
