"""Retention covers a handoff: old operator messages go with their authorship rows, and the
session events that carry their text go with them; newer ones stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from chinwag.config.bot import BotConfig
from chinwag.conversations.models import Message, MessageAuthor, SessionEvent
from chinwag.db.base import utcnow
from chinwag.operations.doctor import run_checks
from chinwag.operations.retention import purge
from chinwag.settings import Settings
from tests.conftest import run_server
from tests.handoff.conftest import BOT, handoff_bot, open_shop, session_events
from tests.helpers import accept, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"


async def test_old_handoff_messages_and_events_are_purged(make_settings: Settings) -> None:
    plain = handoff_bot()
    bot = BotConfig.model_validate({**plain.model_dump(), "retention": {"message_days": 30}})
    async with run_server(make_settings, bot=bot) as server:
        shop = await open_shop(server)
        sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
        await wait_finished(shop.client, sent.json()["assistant_message_id"])
        session = sent.json()["session_id"]
        await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
        await shop.client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.operator)
        old = await shop.client.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "old"}, headers=shop.operator
        )
        async with server.db.write() as conn:  # everything so far is 31 days old
            long_ago = utcnow() - timedelta(days=31)
            await conn.execute(update(Message).values(created_at=long_ago))
            await conn.execute(update(SessionEvent).values(created_at=long_ago))
        new = await shop.client.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "new"}, headers=shop.operator
        )
        purged = await purge(server.db, server.settings)
        assert purged.messages == {BOT: 3} and purged.session_events == 3
        assert "session events: 3" in purged.summary()
        gone = await shop.client.get(f"/v1/messages/{old.json()['message_id']}")
        assert gone.status_code == 404
        kept = await shop.client.get(f"/v1/messages/{new.json()['message_id']}")
        assert kept.json()["author"] == {"kind": "operator", "name": "Kari"}
        events = await session_events(shop.client, f"{SESSION}/{session}/events", 1, shop.alice)
        assert [(e.id, e.data["text"]) for e in events] == [(4, "new")]
        async with server.db.read() as conn:
            authors = (await conn.execute(select(MessageAuthor.name))).scalars().all()
        assert authors == ["Kari"]
        assert all(c.ok for c in await run_checks(server.db, heartbeat_seconds=0.5))
