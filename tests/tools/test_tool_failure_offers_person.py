"""A routed flow's tool that fails (an error status, a reply that is not JSON, a timeout)
offers the visitor a person, as an unanswerable decline does, when the bot's handoff is on and
`handoff.offer_when_tool_fails` is not turned off; the real shop server fails each way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from chinwag.config.bot import BotConfig
from chinwag.config.handoff import HandoffConfig
from chinwag.conversations.models import Handoff, Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_tool_flows import shop_bot

pytestmark = pytest.mark.timeout(60)
OFFER = "Would you like to talk to a person from Vinhuset? Ask for one, and someone will help."


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def with_handoff(bot: BotConfig, **handoff: Any) -> BotConfig:
    config = HandoffConfig.model_validate({"enabled": True, **handoff})
    return bot.model_copy(update={"handoff": config})


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


@pytest.mark.parametrize(
    ("path", "flow", "code"),
    [
        ("/broken", {}, "tool_server_error"),
        ("/not-json", {"verbatim_answer": False}, "tool_bad_json"),
        ("/slow", {"timeout_seconds": 0.5}, "tool_cancelled"),
    ],
)
async def test_a_failing_tool_offers_a_person(
    make_settings: Settings,
    fake_llm: FakeLLM,
    shop: FakeShop,
    path: str,
    flow: dict[str, Any],
    code: str,
) -> None:
    fake_llm.behaviour.model_replies["fake-model"] = "I could not check your order just now."
    bot = with_handoff(shop_bot(shop, path=path, query=True, **flow))
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where is my order 10023?")
        types = [e.type for e in events]
        assert types[-2:] == ["message.completed", "stream.completed"]
        assert events[-1].data["status"] == "completed"
        (offered,) = [e.data for e in events if e.type == "handoff.offered"]
        assert offered == {
            "type": "handoff.offered",
            "reason": "tool_failed",
            "flow": "orders",
            "tool": "order_status",
            "code": code,
        }
        # The offer ends the answer: after every delta of the answer itself, in its text.
        main_done = max(i for i, t in enumerate(types) if t == "flow.completed")
        assert types.index("handoff.offered") > main_done
        text = _text(events)
        assert text.endswith("\n\n" + OFFER), text
        assert events[-2].data["text"] == text
        async with server.db.read() as conn:
            stored = (
                await conn.execute(select(Message.content).where(Message.role == "assistant"))
            ).scalar_one()
            assert stored == text
            # An offer, not a request: nobody is asked for until the visitor wants it.
            assert (await conn.execute(select(Handoff))).first() is None


async def test_the_offer_can_be_turned_off_and_needs_handoff(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    failing = shop_bot(shop, path="/broken", query=True)
    for bot in (failing, with_handoff(failing, offer_when_tool_fails=False)):
        async with run_server(make_settings, bot=bot) as server:
            events = await ask(server.client, "Where is my order 10023?")
            assert "handoff.offered" not in [e.type for e in events]
            assert "person" not in _text(events)
            assert _text(events).startswith("Sorry, I can't check that right now")


async def test_a_tool_that_answers_offers_nobody_and_the_offer_speaks_norwegian(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=with_handoff(shop_bot(shop))) as server:
        events = await ask(server.client, "Where is my order 10023?")
        assert "handoff.offered" not in [e.type for e in events]
        assert _text(events) == "Order 10023 is shipped; delivery 2026-12-09."
    own = {"nb": "Vil du heller snakke med en av oss i {name}?"}
    bot = with_handoff(shop_bot(shop, path="/broken", query=True), offer=own)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Hvor er bestillingen 10023?")
        assert _text(events).endswith("\n\nVil du heller snakke med en av oss i Vinhuset?")
