"""`main` calls the bot's tools by function calling: the whole loop over HTTP and SSE, against
the real shop on 127.0.0.1 and the fake LLM scripting streamed tool calls (SQLite and
PostgreSQL). What the visitor sees, what the model is told, what is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import select

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig
from chinwag.config.limits import LimitsConfig
from chinwag.conversations.models import FlowRun
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall
from tests.conftest import run_server
from tests.helpers import ROOT, ask
from tests.tools.shop import TOKEN, FakeShop

pytestmark = pytest.mark.timeout(60)

ORDER_SCHEMA = {
    "type": "object",
    "properties": {
        "order": {"type": "string", "pattern": "^[0-9]{5}$"},
        "customer": {"type": "string", "x-secret": True},
    },
    "required": ["order"],
}


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def calling_bot(shop: FakeShop, **function_calling: Any) -> BotConfig:
    """vinhuset whose main may call order_status, meet, slow, broken and cancel_order."""
    plain = {"type": "object", "properties": {"who": {"type": "string"}}}

    def tool(path: str, **more: Any) -> dict[str, Any]:
        return {"url": shop.base_url + path, "allow_private": True, "arguments": plain, **more}

    return BotConfig.model_validate(
        {
            "id": "vinhuset",
            "name": "Vinhuset",
            "allowed_hosts": ["127.0.0.1"],
            "tools": {
                "order_status": {
                    "description": "An order's status and delivery date",
                    "url": shop.base_url + "/api/orders/{order}",
                    "headers": {"Authorization": "Bearer ${SHOP_API_TOKEN}"},
                    "arguments": ORDER_SCHEMA,
                    "response": {"status": "order.status", "delivery": "order.delivery.date"},
                    "allow_private": True,
                },
                "meet": tool("/meet/{who}"),
                "slow": tool("/slow"),
                "broken": tool("/broken"),
                "cancel_order": tool("/echo/cancel/{who}", method="POST"),
            },
            "flows": {
                "main": {
                    "system": "You are Vinhuset's assistant.",
                    "template": "{{ message }}",
                    "tools": ["order_status", "meet", "slow", "broken", "cancel_order"],
                    **({"function_calling": function_calling} if function_calling else {}),
                },
            },
        }
    )


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


def _tool_events(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type.startswith("tool.")]


async def _main_calls(server: Any) -> list[dict[str, Any]]:
    async with server.db.read() as conn:
        stored = (
            await conn.execute(select(FlowRun.tool_calls).where(FlowRun.flow == "main"))
        ).scalar_one()
    assert isinstance(stored, list)
    return stored


async def test_main_calls_two_tools_at_once_and_answers_from_them(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023", "customer": "kari@example.com"}),
            ScriptedCall("order_status", {"order": "10024"}),
        ]
    ]
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        events = await ask(server.client, "Where are my orders 10023 and 10024?")
        types = [e.type for e in events]
        assert types[:5] == [
            "stream.started",
            "route.decided",
            "flow.started",
            "tool.started",
            "tool.started",
        ], types
        assert types[5:7] == ["tool.completed", "tool.completed"]
        assert types[-4:] == [
            "message.delta",
            "flow.completed",
            "message.completed",
            "stream.completed",
        ]
        started = [e.data for e in events if e.type == "tool.started"]
        assert started[0] == {
            "type": "tool.started",
            "flow": "main",
            "tool": "order_status",
            "arguments": {"order": "10023", "customer": "[redacted]"},
            "step": 1,
            "call_id": "call_0_0",
        }
        done = {e.data["call_id"]: e.data for e in events if e.type == "tool.completed"}
        assert {d["status"] for d in done.values()} == {"completed"}
        assert {d["http_status"] for d in done.values()} == {200}
        assert all(d["bytes"] > 0 and d["ms"] > 0 for d in done.values())
        # The streamed answer goes on after the calls, from their results.
        answer = _text(events)
        assert "shipped" in answer and "2026-12-09" in answer and "packing" in answer
        assert events[-2].data["text"] == answer and events[-1].data["status"] == "completed"

        # What the model was offered, and what it was told.
        first, second = fake_llm.requests
        offered = [t["function"]["name"] for t in first["tools"]]
        assert offered == ["order_status", "meet", "slow", "broken", "cancel_order"]
        assert first["tools"][0]["function"]["description"] == "An order's status and delivery date"
        assert "x-secret" not in orjson.dumps(first["tools"]).decode()
        assert first["tool_choice"] == "auto"
        asked, *told = second["messages"][-3:]
        assert [c["id"] for c in asked["tool_calls"]] == ["call_0_0", "call_0_1"]
        assert [m["tool_call_id"] for m in told] == ["call_0_0", "call_0_1"]
        assert orjson.loads(told[1]["content"]) == {
            "result": {"status": "packing", "delivery": "2026-12-11"}
        }

        calls = await _main_calls(server)
        assert sorted(c["call_id"] for c in calls) == ["call_0_0", "call_0_1"]
        assert {c["tool"] for c in calls} == {"order_status"}
        assert {c["step"] for c in calls} == {1} and {c["http_status"] for c in calls} == {200}
        mine = next(c for c in calls if c["call_id"] == "call_0_0")
        assert mine["arguments"] == {"order": "10023", "customer": "[redacted]"}
        runs = (await server.client.get("/v1/bots/vinhuset/flow-runs")).json()
        assert len(runs[0]["tool_calls"]) == 2
        # The shop's secret and the secret argument went nowhere else.
        async with server.db.read() as conn:
            stored = (await conn.execute(select(LoggedEvent.data))).scalars().all()
        assert not [d for d in stored if TOKEN in d or "kari@example.com" in d]
        assert shop.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_the_calls_of_one_turn_run_in_parallel(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """Two calls to /meet only meet if both are in flight at once."""
    fake_llm.behaviour.tool_turns = [
        [ScriptedCall("meet", {"who": "a"}), ScriptedCall("meet", {"who": "b"})]
    ]
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        events = await ask(server.client, "Meet?")
        told = [orjson.loads(m["content"]) for m in fake_llm.requests[-1]["messages"][-2:]]
        assert told == [
            {"result": {"met": True, "who": "a"}},
            {"result": {"met": True, "who": "b"}},
        ]
        assert events[-1].data["status"] == "completed"


async def test_after_max_steps_the_model_must_answer(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [
        [ScriptedCall("order_status", {"order": "10023"})],
        [ScriptedCall("order_status", {"order": "10024"})],
        [ScriptedCall("order_status", {"order": "10023"})],  # never asked: tools are off
    ]
    async with run_server(make_settings, bot=calling_bot(shop, max_steps=2)) as server:
        events = await ask(server.client, "Where are my orders?")
        steps = [e["step"] for e in _tool_events(events) if e["type"] == "tool.completed"]
        assert steps == [1, 2]
        assert [r["tool_choice"] for r in fake_llm.requests] == ["auto", "auto", "none"]
        assert "packing" in _text(events) and events[-1].data["status"] == "completed"
        assert shop.hits("/api/orders/10023") == 1

        # A model that keeps calling when told to answer: nothing is called, and the
        # visitor is told the answer failed instead of getting nothing.
        fake_llm.requests.clear()
        fake_llm.behaviour.ignore_tool_choice = True
        events = await ask(server.client, "Where are my orders?")
        done = [e for e in _tool_events(events) if e["type"] == "tool.completed"]
        assert [(e["step"], e["code"]) for e in done] == [
            (1, None),
            (2, None),
            (3, "tool_steps_exhausted"),
        ]
        assert shop.hits("/api/orders/10023") == 2  # the third call was not made
        error = next(e.data for e in events if e.type == "error")
        assert error["code"] == "tool_steps_exhausted"
        assert events[-1].data["status"] == "failed"


async def test_a_slow_call_meets_its_timeout_then_the_budget(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """/slow takes 3 s: the per-call timeout stops the first call, the budget (1.5 s) the
    second; then no call is started and the model answers with what it has."""
    fake_llm.behaviour.tool_turns = [
        [ScriptedCall("slow")],
        [ScriptedCall("slow")],
        [ScriptedCall("order_status", {"order": "10023"})],
    ]
    bot = calling_bot(shop, call_timeout_seconds=1, budget_seconds=1.5, max_steps=3)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Is it slow?")
        done = [e for e in _tool_events(events) if e["type"] == "tool.completed"]
        assert [e["code"] for e in done] == ["tool_timeout", "tool_budget_exhausted"]
        # The first call used its 1 s; the second got what was left of the 1.5 s.
        assert done[0]["ms"] >= 1000 and done[1]["ms"] < 1000
        assert fake_llm.requests[-1]["tool_choice"] == "none"  # the budget is spent
        assert shop.hits("/api/orders/10023") == 0
        answer = _text(events)
        assert "tool_timeout" in answer and "tool_budget_exhausted" in answer
        assert events[-1].data["status"] == "completed"
        codes = [c["code"] for c in await _main_calls(server)]
        assert codes == ["tool_timeout", "tool_budget_exhausted"]


async def test_calls_that_may_not_be_made_are_refused_to_the_model(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """Invalid arguments (to a tool that changes something too: refused, not held for a
    confirmation), arguments that are not JSON, a tool not offered, and calls over max_calls:
    each is answered with a stated error, never sent."""
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023/../../admin"}),
            ScriptedCall("order_status", '{"order": "100'),
            ScriptedCall("delete_everything", {"really": True}),
            ScriptedCall("cancel_order", {"who": 10023}),  # not a string
            ScriptedCall("order_status", {"order": "10023"}),
            ScriptedCall("order_status", {"order": "10024"}),
        ]
    ]
    async with run_server(make_settings, bot=calling_bot(shop, max_calls=1)) as server:
        events = await ask(server.client, "Do things")
        done = [e for e in _tool_events(events) if e["type"] == "tool.completed"]
        by_call = {e["call_id"]: e for e in done}
        assert [by_call[f"call_0_{i}"]["code"] for i in range(6)] == [
            "tool_arguments_invalid",
            "tool_arguments_invalid",
            "tool_not_offered",
            "tool_arguments_invalid",
            None,
            "tool_calls_exhausted",
        ]
        assert "does not match" in by_call["call_0_0"]["message"]
        made_up = by_call["call_0_2"]  # a made-up tool: its name and arguments are not shown
        assert (made_up["tool"], made_up["arguments"]) == ("(unknown)", {})
        assert "'delete_everything'" in made_up["message"]
        assert [s.raw_path for s in shop.seen] == ["/api/orders/10023"]  # one call was made
        told = [orjson.loads(m["content"]) for m in fake_llm.requests[-1]["messages"][-6:]]
        codes = [t["error"]["code"] if "error" in t else "result" for t in told]
        assert codes == [
            "tool_arguments_invalid",
            "tool_arguments_invalid",
            "tool_not_offered",
            "tool_arguments_invalid",
            "result",
            "tool_calls_exhausted",
        ]
        assert "tool.confirmation" not in [e.type for e in events]
        assert events[-1].data["status"] == "completed"


async def test_a_failing_tool_is_told_to_the_model(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [[ScriptedCall("broken")]]
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        events = await ask(server.client, "Is it broken?")
        (done,) = [e for e in _tool_events(events) if e["type"] == "tool.completed"]
        assert (done["status"], done["code"], done["http_status"]) == (
            "error",
            "tool_server_error",
            503,
        )
        told = orjson.loads(fake_llm.requests[-1]["messages"][-1]["content"])
        assert told["error"]["code"] == "tool_server_error" and "503" in told["error"]["message"]
        assert told["error"]["hint"]
        assert "tool_server_error" in _text(events)  # the model said what happened
        assert events[-1].data["status"] == "completed"
        metrics = (await server.client.get("/metrics")).text
        assert 'code="tool_server_error",status="error",tool="broken"} 1.0' in metrics


async def test_the_embedded_model_cannot_call_tools_and_says_so(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """With no LLM server configured, main's model is the embedded one: the answer fails
    with a code and a hint instead of quietly answering without the tools."""
    settings = make_settings.model_copy(update={"llm_base_url": None})
    async with run_server(settings, bot=calling_bot(shop)) as server:
        events = await ask(server.client, "Where is my order 10023?")
        error = next(e.data for e in events if e.type == "error")
        assert error["code"] == "llm_no_function_calling"
        assert "order_status" in error["message"]
        assert events[-1].data["status"] == "failed"
        assert shop.seen == [] and fake_llm.requests == []


def docs_function_calling_example() -> dict[str, Any]:
    """The function-calling bot of docs/tools.md."""
    text = (ROOT / "docs" / "tools.md").read_text()
    start = text.index("```yaml", text.index("## Function calling")) + len("```yaml")
    document: dict[str, Any] = yaml.safe_load(text[start : text.index("```", start)])
    return document


def test_the_docs_function_calling_example_validates() -> None:
    env = {"SHOP_API_TOKEN": "x", "OPENAI_API_KEY": "x"}
    report = validate_document(docs_function_calling_example(), env=env)
    assert report.ok and report.problems == [], report.problems


async def test_the_docs_function_calling_example_answers_as_documented(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """Pointed at the local shop and the fake LLM: two orders looked up at once, then a
    number the schema refuses, told to the model as the page shows it."""
    document = docs_function_calling_example()
    document.pop("llm")  # the server's default: the fake LLM
    tool = document["tools"]["order_status"]
    tool["url"] = shop.base_url + "/api/orders/{order}"
    tool["allow_private"] = True
    document["allowed_hosts"] = ["127.0.0.1"]
    bot = BotConfig.model_validate({**document, "id": "vinhuset"})
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023"}),
            ScriptedCall("order_status", {"order": "10024"}),
        ]
    ]
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where are my orders 10023 and 10024?")
        done = [e for e in _tool_events(events) if e["type"] == "tool.completed"]
        assert [(e["step"], e["status"]) for e in done] == [(1, "completed"), (1, "completed")]
        answer = _text(events)
        assert '"status":"shipped","delivery":"2026-12-09"' in answer
        assert '"status":"packing","delivery":"2026-12-11"' in answer

        fake_llm.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "1002"})]]
        await ask(server.client, "Where is my order 1002?")
        told = orjson.loads(fake_llm.requests[-1]["messages"][-1]["content"])
        page = (ROOT / "docs" / "tools.md").read_text()
        start = page.index("```json", page.index("### What the model may not do")) + 7
        assert told == orjson.loads(page[start : page.index("```", start)])


async def test_the_bot_s_tool_limits_bound_main_s_calls_too(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023"}),
            ScriptedCall("order_status", {"order": "10024"}),
        ]
    ]
    bot = calling_bot(shop).model_copy(update={"limits": LimitsConfig(tool_calls_per_message=1)})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where are my orders 10023 and 10024?")
    done = [e.data for e in events if e.type == "tool.completed"]
    assert sorted((d["status"], d["code"]) for d in done) == [
        ("completed", None),
        ("error", "tool_limit_reached"),
    ]
    assert events[-1].data["status"] == "completed"  # the model is told; the answer goes on
