"""A visitor asks for a person in words: the bot answers honestly what happens next, with no
LLM call, and the session waits for an operator; without handoff, the bot answers as before."""

from __future__ import annotations

from sqlalchemy import select

from chinwag.conversations.models import Handoff
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop, session_events
from tests.helpers import ask

SESSION = f"/v1/bots/{BOT}/sessions"


async def _asked(shop: Shop, text: str) -> tuple[str, list[str], str]:
    """(session id, event types, answer text) of one message sent as the widget does."""
    events = await ask(shop.client, text, headers=shop.alice)
    completed = next(e for e in events if e.type == "message.completed")
    return events[0].data["session_id"], [e.type for e in events], completed.data["text"]


async def test_asking_in_words_within_hours(make_settings: Settings, fake_llm: FakeLLM) -> None:
    async with run_server(make_settings, bot=handoff_bot()) as server:
        shop = await open_shop(server)
        session, types, text = await _asked(shop, "kan jeg få snakke med en person?")
        assert types[:2] == ["stream.started", "handoff.requested"]
        assert types[-2:] == ["message.completed", "stream.completed"]
        assert text.startswith("Jeg har bedt om at en person fra Vinhuset tar over.")
        assert fake_llm.requests == [], "no LLM call for a request for a person"
        events = await session_events(shop.client, f"{SESSION}/{session}/events", 1, shop.alice)
        assert events[0].data == {
            "type": "handoff.waiting",
            "state": "waiting",
            "requested_by": "words",
            "within_hours": True,
        }
        queue = await shop.client.get(f"/v1/bots/{BOT}/handoffs", headers=shop.operator)
        (waiting,) = queue.json()["handoffs"]
        assert waiting["last_message"] == "kan jeg få snakke med en person?"
        # An ordinary question in a new session is answered by the bot.
        fake_llm.behaviour.tokens = 3
        _, types, _ = await _asked(shop, "Har dere Barolo?")
        assert "handoff.requested" not in types and len(fake_llm.requests) == 1


async def test_asking_outside_the_hours_asks_for_an_email(make_settings: Settings) -> None:
    nobody = handoff_bot(hours={"timezone": "Europe/Oslo"})  # no day has hours
    async with run_server(make_settings, bot=nobody) as server:
        shop = await open_shop(server)
        session, types, text = await _asked(shop, "can I talk to a human?")
        assert "handoff.requested" in types
        assert text.startswith("Nobody from Vinhuset is available right now.")
        assert "email address" in text
        events = await session_events(shop.client, f"{SESSION}/{session}/events", 1, shop.alice)
        assert events[0].data["within_hours"] is False
        # The button says the same.
        other = await ask(shop.client, "Hei", headers=shop.alice)
        pressed = await shop.client.post(
            f"{SESSION}/{other[0].data['session_id']}/handoff", headers=shop.alice
        )
        assert pressed.json()["within_hours"] is False and "email" in pressed.json()["text"]


async def test_without_handoff_the_bot_answers_a_request_for_a_person(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    async with run_server(make_settings) as server:
        shop = await open_shop(server)
        _, types, _ = await _asked(shop, "can I talk to a human?")
        assert "handoff.requested" not in types and len(fake_llm.requests) == 1
        async with server.db.read() as conn:
            assert (await conn.execute(select(Handoff))).all() == []
