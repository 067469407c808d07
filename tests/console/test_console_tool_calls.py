"""Tool calls in the console's API: each answer's calls in its transcript (a flow's call and
main's function calls, arguments redacted where the schema marks them secret) and calls,
errors and p95 per tool in the analytics, from real answers against the shop on 127.0.0.1
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chinwag.config.bot import BotConfig
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall
from tests.conftest import RunningServer, run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop

pytestmark = pytest.mark.timeout(60)
SECRET_ARGUMENT = "kari@example.com"  # the `customer` the model sends: marked x-secret


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def calling_bot(shop: FakeShop) -> BotConfig:
    """vinhuset: an `orders` flow calls order_status; main may call order_status and broken."""
    return BotConfig.model_validate(
        {
            "id": "vinhuset",
            "name": "Vinhuset",
            "router": {"strategy": "keywords"},
            "allowed_hosts": ["127.0.0.1"],
            "tools": {
                "order_status": {
                    "description": "An order's status and delivery date",
                    "url": shop.base_url + "/api/orders/{order}",
                    "headers": {"Authorization": "Bearer ${SHOP_API_TOKEN}"},
                    "arguments": {
                        "type": "object",
                        "properties": {
                            "order": {"type": "string", "pattern": "^[0-9]{5}$"},
                            "customer": {"type": "string", "x-secret": True},
                        },
                        "required": ["order"],
                    },
                    "response": {"status": "order.status"},
                    "allow_private": True,
                },
                "broken": {
                    "description": "A shop endpoint that is down",
                    "url": shop.base_url + "/broken",
                    "arguments": {"type": "object", "properties": {}},
                    "retries": 0,
                    "allow_private": True,
                },
            },
            "flows": {
                "main": {"template": "{{ message }}", "tools": ["order_status", "broken"]},
                "orders": {
                    "keywords": ["order"],
                    "tool": "order_status",
                    "arguments": {"order": {"pattern": r"\b(\d{5})\b"}},
                    "template": "Order {{ tool.arguments.order }}: {{ tool.result.status }}",
                    "generate": False,
                },
            },
        }
    )


async def _answered(server: RunningServer, fake_llm: FakeLLM) -> dict[str, Any]:
    """'Where is order 10023?': the orders flow's call, then main's two calls (one fails)."""
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10024", "customer": SECRET_ARGUMENT}),
            ScriptedCall("broken", {}),
        ]
    ]
    events = await ask(server.client, "Where is order 10023?", user_id="kari", session_id="s1")
    assert events[-1].data["status"] == "completed", [e.data for e in events]
    response = await server.client.get("/v1/bots/vinhuset/sessions/s1/transcript")
    assert response.status_code == 200, response.text
    assert SECRET_ARGUMENT not in response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_transcript_shows_each_answers_tool_calls_redacted(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        question, answer = (await _answered(server, fake_llm))["messages"]
    assert question["tool_calls"] == []
    flow_call, *main_calls = answer["tool_calls"]
    assert flow_call == {
        "flow": "orders",
        "tool": "order_status",
        "step": None,
        "call_id": None,
        "arguments": {"order": "10023"},
        "status": "completed",
        "http_status": 200,
        "ms": flow_call["ms"],
        "bytes": flow_call["bytes"],
        "attempts": 1,
        "error_code": None,
    }
    assert flow_call["ms"] > 0 and flow_call["bytes"] > 0
    shown = {c["call_id"]: c for c in main_calls}
    assert sorted(shown) == ["call_0_0", "call_0_1"]
    looked_up, failed = shown["call_0_0"], shown["call_0_1"]
    assert (looked_up["flow"], looked_up["tool"], looked_up["step"]) == ("main", "order_status", 1)
    assert looked_up["arguments"] == {"order": "10024", "customer": "[redacted]"}
    assert (looked_up["status"], looked_up["http_status"], looked_up["error_code"]) == (
        "completed",
        200,
        None,
    )
    assert (failed["tool"], failed["status"], failed["http_status"]) == ("broken", "error", 503)
    assert failed["error_code"] == "tool_server_error" and failed["ms"] > 0


async def test_analytics_count_calls_errors_and_p95_per_tool(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=calling_bot(shop)) as server:
        await _answered(server, fake_llm)
        # A second answer: main alone calls order_status (no order number: no flow routed).
        fake_llm.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "10023"})]]
        await ask(server.client, "How are my wines doing?", user_id="kari", session_id="s2")
        charts = (await server.client.get("/v1/analytics", params={"bot_id": "vinhuset"})).json()
        elsewhere = await server.client.get("/v1/analytics?since=2020-01-01&until=2020-01-31")
    rows = {row["tool"]: row for row in charts["charts"]["tools"]}
    assert sorted(rows) == ["broken", "order_status"]
    assert (rows["order_status"]["calls"], rows["order_status"]["errors"]) == (3, 0)
    assert (rows["broken"]["calls"], rows["broken"]["errors"]) == (1, 1)
    for row in rows.values():
        assert 0 < row["p50_ms"] <= row["p95_ms"]
    assert elsewhere.json()["charts"]["tools"] == []
