"""A tool flow across turns: the message after the bot asked for an argument fills it (the flow
is kept though the router would not choose it), and a value from an earlier turn is reused by a
follow-up ("10023" … "and when will it arrive?"), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from chinwag.conversations.models import Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_tool_flows import shop_bot

pytestmark = pytest.mark.timeout(60)
SHIPPED = "Order 10023 is shipped; delivery 2026-12-09."


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


def _tool_arguments(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data["arguments"] for e in events if e.type == "tool.started"]


async def test_the_next_message_fills_the_argument_and_a_follow_up_reuses_it(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    bot = shop_bot(shop, follow_up=["arrive", "kommer"])
    async with run_server(make_settings, bot=bot) as server:
        turn = {"user_id": "kari", "session_id": "order-chat"}
        asked = await ask(server.client, "Where is my order?", **turn)
        assert _text(asked) == "What is your order number? It has five digits."

        # "10023" names no keyword: the router chooses nothing, the question keeps `orders`.
        filled = await ask(server.client, "10023", **turn)
        route = next(e for e in filled if e.type == "route.decided")
        assert route.data["flows"] == ["main", "orders"]
        assert _tool_arguments(filled) == [{"order": "10023"}]
        assert _text(filled) == SHIPPED

        # A follow-up word keeps it again, with the order number of the earlier turn.
        again = await ask(server.client, "And when will it arrive?", **turn)
        assert _tool_arguments(again) == [{"order": "10023"}]
        assert _text(again) == SHIPPED
        assert fake_llm.requests == []  # no LLM in any of these turns
        assert shop.hits("/api/orders/10023") == 2

        # Anything else is main's: no flow kept, no call.
        other = await ask(server.client, "Do you sell gift cards?", **turn)
        assert _tool_arguments(other) == [] and len(fake_llm.requests) == 1

        async with server.db.read() as conn:
            routes = (
                await conn.execute(
                    select(Message.route)
                    .where(Message.role == "assistant")
                    .order_by(Message.position)
                )
            ).scalars()
            kept = [(r or {}).get("kept") for r in routes]
        assert kept == [None, ["orders"], ["orders"], None]


async def test_an_earlier_value_stays_in_its_own_session(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=shop_bot(shop)) as server:
        first = await ask(server.client, "Where is my order 10023?", user_id="a", session_id="s1")
        assert _text(first) == SHIPPED
        # Another session of the same person, and another person's: nothing carried over.
        for who in ({"user_id": "a", "session_id": "s2"}, {"user_id": "b", "session_id": "s3"}):
            asked = await ask(server.client, "Where is my order?", **who)
            assert _text(asked) == "What is your order number? It has five digits."
        # In its own session, the order flow reuses it when the router chooses the flow again.
        again = await ask(server.client, "Is my order packed?", user_id="a", session_id="s1")
        assert _tool_arguments(again) == [{"order": "10023"}]


async def test_a_new_number_wins_over_the_remembered_one(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=shop_bot(shop)) as server:
        turn = {"user_id": "kari", "session_id": "two-orders"}
        await ask(server.client, "Where is my order 10023?", **turn)
        other = await ask(server.client, "And my order 10024?", **turn)
        assert _tool_arguments(other) == [{"order": "10024"}]
        assert _text(other) == "Order 10024 is packing; delivery 2026-12-11."
        # An answer that asked for nothing and a message without a number: no question kept.
        unrelated = await ask(server.client, "12345", **turn)
        assert _tool_arguments(unrelated) == []
