"""`main`'s model asks for a call that changes something: nothing is sent until the visitor
confirms; the Confirm makes it once (two tabs at once, a retry) and the model's answer goes on
from its result; a Cancel makes none. A call main made that failed offers a person. The real
shop on 127.0.0.1 and the fake LLM scripting the calls; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from chinwag.config.bot import BotConfig
from chinwag.conversations.models import ToolAction
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall
from tests.conftest import RunningServer, run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_function_calling import calling_bot
from tests.tools.test_tool_failure_offers_person import OFFER, with_handoff

pytestmark = pytest.mark.timeout(60)
TURN = {"user_id": "kari", "session_id": "fc-chat"}
CANCEL_10023 = "/echo/cancel/10023"


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def worded_bot(shop: FakeShop, **more: Any) -> BotConfig:
    """calling_bot, whose main words its confirmations; `more`: added to the document."""
    document = calling_bot(shop).model_dump(exclude_unset=True)
    document["flows"]["main"]["confirm_question"] = {"en": "Shall I cancel order {who}?"}
    document["flows"]["main"]["confirm_cancelled"] = {"en": "All right: order kept."}
    for key, value in more.items():
        document[key] = {**document.get(key, {}), **value}
    return BotConfig.model_validate(document)


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


def _types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def _decision(action_id: str, decision: str) -> dict[str, Any]:
    return {**TURN, "confirm": {"action_id": action_id, "decision": decision}}


async def _asked(server: RunningServer, text: str = "Where is 10023? Cancel it.") -> Any:
    """The answer that asks, and its `tool.confirmation`."""
    events = await ask(server.client, text, **TURN)
    (asked,) = [e.data for e in events if e.type == "tool.confirmation"]
    return events, asked


async def test_a_change_waits_for_the_confirm_and_is_made_once(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023"}),
            ScriptedCall("cancel_order", {"who": "10023"}),
            ScriptedCall("cancel_order", {"who": "10024"}),  # one change is asked at a time
        ]
    ]
    async with run_server(make_settings, bot=worded_bot(shop)) as server:
        events, asked = await _asked(server)
        assert asked == {
            "type": "tool.confirmation",
            "action_id": asked["action_id"],
            "flow": "main",
            "tool": "cancel_order",
            "arguments": {"who": "10023"},
            "text": "Shall I cancel order 10023?",
        }
        types = [e.type for e in events]
        # The read-only call ran; the second change was refused; the question ends the answer.
        done = [e.data for e in events if e.type == "tool.completed"]
        assert [(d["tool"], d["code"]) for d in done] == [
            ("order_status", None),
            ("cancel_order", "tool_needs_confirmation"),
        ] or [(d["tool"], d["code"]) for d in done] == [
            ("cancel_order", "tool_needs_confirmation"),
            ("order_status", None),
        ]
        assert types.index("tool.confirmation") > max(
            i for i, t in enumerate(types) if t == "tool.completed"
        )
        assert types[-3:] == ["flow.completed", "message.completed", "stream.completed"]
        assert _text(events) == "Shall I cancel order 10023?"
        assert events[-1].data["status"] == "completed"
        assert shop.hits(CANCEL_10023) == 0 and shop.hits("/echo/cancel/10024") == 0
        assert len(fake_llm.requests) == 1  # the model waits with the visitor

        # A reload shows the question with its buttons.
        page = (
            await server.client.get(f"/v1/bots/vinhuset/sessions/{TURN['session_id']}/messages")
        ).json()
        pending = page["messages"][-1]["pending_action"]
        assert pending["action_id"] == asked["action_id"]
        assert (pending["flow"], pending["tool"]) == ("main", "cancel_order")
        assert pending["text"] == "Shall I cancel order 10023?"

        # Two tabs confirm at once: one call; one answer goes on from its result.
        body = _decision(asked["action_id"], "confirm")
        tabs = await asyncio.gather(
            ask(server.client, "Confirm", **body), ask(server.client, "Confirm", **body)
        )
        assert shop.hits(CANCEL_10023) == 1 and shop.hits("/echo/cancel/10024") == 0
        made, other = sorted(tabs, key=lambda events: "tool.started" not in _types(events))
        assert _text(other) in ("That is already done.", "That is already being done.")
        started = [e.data for e in made if e.type == "tool.started"]
        assert [(s["flow"], s["tool"], s["step"]) for s in started] == [("main", "cancel_order", 1)]
        made_types = [e.type for e in made]
        assert made_types[:4] == [
            "stream.started",
            "flow.started",
            "tool.started",
            "tool.completed",
        ]
        assert made_types[-3:] == ["flow.completed", "message.completed", "stream.completed"]
        # The model was given the conversation it asked in and the call's result.
        continued = fake_llm.requests[-1]["messages"]
        asking, *told = continued[-4:]
        assert [c["function"]["name"] for c in asking["tool_calls"]] == [
            "order_status",
            "cancel_order",
            "cancel_order",
        ]
        assert [m["tool_call_id"] for m in told] == ["call_0_0", "call_0_2", "call_0_1"]
        assert orjson.loads(told[2]["content"]) == {"result": {"path": CANCEL_10023}}
        assert orjson.loads(told[1]["content"])["error"]["code"] == "tool_needs_confirmation"
        answer = _text(made)
        assert answer.startswith("The tools said:") and CANCEL_10023 in answer

        # Confirmed again later: nothing more is sent.
        late = await ask(server.client, "Confirm", **body)
        assert _text(late) == "That is already done."
        assert shop.hits(CANCEL_10023) == 1
        async with server.db.read() as conn:
            action = (await conn.execute(select(ToolAction))).one()
        assert (action.flow, action.status, action.arguments) == ("main", "done", None)
        assert action.outcome["status"] == "completed" and action.outcome["http_status"] == 200
        page = (
            await server.client.get(f"/v1/bots/vinhuset/sessions/{TURN['session_id']}/messages")
        ).json()
        assert [m["pending_action"] for m in page["messages"]] == [None] * len(page["messages"])


async def test_cancel_makes_no_call_and_asks_the_model_nothing(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [[ScriptedCall("cancel_order", {"who": "10023"})]]
    async with run_server(make_settings, bot=worded_bot(shop)) as server:
        _, asked = await _asked(server, "Cancel order 10023")
        kept = await ask(server.client, "Cancel", **_decision(asked["action_id"], "cancel"))
        assert _text(kept) == "All right: order kept."
        late = await ask(server.client, "Confirm", **_decision(asked["action_id"], "confirm"))
        assert _text(late) == "That was already cancelled: nothing was done."
        assert shop.hits(CANCEL_10023) == 0 and len(fake_llm.requests) == 1


async def test_a_failed_function_call_offers_a_person(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """After main's answer, in its text and as `handoff.offered`; a call the model was refused
    (its arguments) offers nobody, and a confirmed change that fails offers one too."""
    refund = {"url": shop.base_url + "/broken", "method": "POST", "allow_private": True}
    bot = with_handoff(worded_bot(shop, tools={"refund": refund}))
    main = bot.flows["main"].model_copy(update={"tools": [*bot.flows["main"].tools, "refund"]})
    bot = bot.model_copy(update={"flows": {**bot.flows, "main": main}})
    fake_llm.behaviour.tool_turns = [[ScriptedCall("broken")]]
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Is it broken?")
        types = [e.type for e in events]
        (offered,) = [e.data for e in events if e.type == "handoff.offered"]
        assert offered == {
            "type": "handoff.offered",
            "reason": "tool_failed",
            "flow": "main",
            "tool": "broken",
            "code": "tool_server_error",
        }
        assert types.index("handoff.offered") == types.index("flow.completed") + 1
        assert types[-2:] == ["message.completed", "stream.completed"]
        text = _text(events)
        assert "tool_server_error" in text and text.endswith("\n\n" + OFFER), text
        assert events[-2].data["text"] == text

        fake_llm.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "1"})]]
        events = await ask(server.client, "Where is order 1?")
        assert "handoff.offered" not in [e.type for e in events]
        assert "person" not in _text(events)

        fake_llm.behaviour.tool_turns = [[ScriptedCall("refund", {"who": "10023"})]]
        events, asked = await _asked(server, "Refund 10023")
        assert "handoff.offered" not in [e.type for e in events]  # a question, not a failure
        events = await ask(server.client, "Confirm", **_decision(asked["action_id"], "confirm"))
        (offered,) = [e.data for e in events if e.type == "handoff.offered"]
        assert (offered["flow"], offered["tool"]) == ("main", "refund")
        assert _text(events).endswith("\n\n" + OFFER)
        assert shop.hits("/broken") == 2
