"""A routed flow calls its tool with no LLM: what the visitor sees (events, answer), what is
recorded (flow runs), and that the shop's secret is never echoed (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.auth.tokens import identity_secret, user_hash
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import FlowRun
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop

pytestmark = pytest.mark.timeout(60)
SITE = "https://shop.example"

ORDER_TEMPLATE = (
    "{% if norwegian %}Bestilling {{ tool.arguments.order }} er {{ tool.result.status }}, "
    "levering {{ tool.result.delivery }}.{% else %}Order {{ tool.arguments.order }} is "
    "{{ tool.result.status }}; delivery {{ tool.result.delivery }}.{% endif %}"
)


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def shop_bot(
    shop: FakeShop, *, path: str = "/api/orders/{order}", query: bool = False, **orders: Any
) -> BotConfig:
    """vinhuset with an `orders` flow that calls the shop's order_status tool."""
    return BotConfig.model_validate(
        {
            "id": "vinhuset",
            "name": "Vinhuset",
            "router": {"strategy": "keywords"},
            "allowed_hosts": ["127.0.0.1"],
            "tools": {
                "order_status": {
                    "url": shop.base_url + path,
                    "query": {"order": "{order}"} if query else {},
                    "headers": {"Authorization": "Bearer ${SHOP_API_TOKEN}"},
                    "arguments": {
                        "type": "object",
                        "properties": {
                            "order": {"type": "string", "pattern": "^[0-9]{5}$"},
                            "customer": {"type": "string", "x-secret": True},
                        },
                        "required": ["order"],
                    },
                    "response": {"status": "order.status", "delivery": "order.delivery.date"},
                    "allow_private": True,
                },
            },
            "flows": {
                "main": {
                    "system": "{% if flows.orders is defined %}[orders: "
                    "{{ flows.orders.output }}]{% endif %}",
                    "template": "{{ message }}",
                },
                "orders": {
                    "keywords": ["order", "bestillingen"],
                    "tool": "order_status",
                    "arguments": {"order": {"pattern": r"\b(\d{5})\b", "label": "order number"}},
                    "ask": {
                        "en": "What is your {argument}? It has five digits.",
                        "nb": "Hva er ordrenummeret ditt? Det har fem sifre.",
                    },
                    "template": ORDER_TEMPLATE,
                    "generate": False,
                    "verbatim_answer": True,
                    **orders,
                },
            },
        }
    )


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


async def test_where_is_my_order_is_answered_from_the_shop(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=shop_bot(shop)) as server:
        events = await ask(server.client, "Where is my order 10023?")
        types = [e.type for e in events]
        assert types[:7] == [
            "stream.started",
            "route.decided",
            "flow.started",
            "tool.started",
            "tool.completed",
            "flow.completed",
            "flow.started",
        ], types
        assert types[-2:] == ["message.completed", "stream.completed"]
        started, completed = events[3].data, events[4].data
        assert started == {
            "type": "tool.started",
            "flow": "orders",
            "tool": "order_status",
            "arguments": {"order": "10023"},
            "step": None,  # main's function calls only
            "call_id": None,
        }
        assert completed["status"] == "completed" and completed["http_status"] == 200
        assert completed["ms"] > 0 and completed["bytes"] > 0 and completed["code"] is None
        answer = "Order 10023 is shipped; delivery 2026-12-09."
        assert _text(events) == answer and events[-2].data["text"] == answer
        assert fake_llm.requests == []  # no LLM: the tool's result is the answer

        nb = await ask(server.client, "Hvor er bestillingen min 10023?")
        assert _text(nb) == "Bestilling 10023 er shipped, levering 2026-12-09."

        async with server.db.read() as conn:
            runs = (
                await conn.execute(
                    select(FlowRun.flow, FlowRun.status, FlowRun.tool).order_by(FlowRun.id)
                )
            ).all()
            stored = (await conn.execute(select(LoggedEvent.data))).scalars().all()
        tool = runs[0].tool
        assert (runs[0].flow, runs[0].status) == ("orders", "completed")
        assert tool["tool"] == "order_status" and tool["status"] == "completed"
        assert tool["http_status"] == 200 and tool["arguments"] == {"order": "10023"}
        assert tool["code"] is None and tool["bytes"] > 0 and tool["attempts"] == 1
        assert [r.flow for r in runs] == ["orders", "main", "orders", "main"]

        # The secret went to the shop, and nowhere else.
        assert shop.seen[-1].headers["authorization"] == f"Bearer {TOKEN}"
        assert not [data for data in stored if TOKEN in data]
        said = [
            await server.client.get(url)
            for url in (
                "/v1/bots/vinhuset",
                "/v1/bots/vinhuset/versions/1",
                "/v1/bots/vinhuset/flow-runs",
                f"/v1/messages/{events[-2].data['message_id']}",
            )
        ]
        assert all(r.status_code == 200 for r in said), [r.text for r in said]
        assert not [r.text for r in said if TOKEN in r.text]
        assert "${SHOP_API_TOKEN}" in said[0].text  # the reference is kept, not the value
        listed = [r["tool"] for r in said[2].json() if r["flow"] == "orders"]
        assert [t["status"] for t in listed] == ["completed", "completed"]


async def test_a_missing_order_number_is_asked_for(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=shop_bot(shop)) as server:
        events = await ask(server.client, "Where is my order?")
        assert _text(events) == "What is your order number? It has five digits."
        assert not [e for e in events if e.type.startswith("tool.")]
        assert shop.seen == [] and fake_llm.requests == []
        nb = await ask(server.client, "Hvor er bestillingen min?")
        assert _text(nb) == "Hva er ordrenummeret ditt? Det har fem sifre."
        async with server.db.read() as conn:
            tools = (await conn.execute(select(FlowRun.tool))).scalars().all()
        assert tools == [None, None, None, None]


async def test_a_failing_tool_is_said_never_made_up(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    bot = shop_bot(shop, path="/broken", query=True)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where is my order 10023?")
        (completed,) = [e.data for e in events if e.type == "tool.completed"]
        assert completed["status"] == "error" and completed["code"] == "tool_server_error"
        assert completed["http_status"] == 503 and "503" in completed["message"]
        assert _text(events).startswith("Sorry, I can't check that right now")
        assert events[-1].data["status"] == "completed"
        async with server.db.read() as conn:
            tool = (
                await conn.execute(select(FlowRun.tool).where(FlowRun.flow == "orders"))
            ).scalar_one()
        assert tool["status"] == "error" and tool["code"] == "tool_server_error"
        assert shop.hits("/broken") == 1  # a GET without `retries` is tried once
        metrics = (await server.client.get("/metrics")).text
        assert (
            'chinwag_tool_call_seconds_count{bot="vinhuset",code="tool_server_error",'
            'status="error",tool="order_status"} 1.0'
        ) in metrics


async def test_a_private_address_is_refused_in_the_answer_too(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    bot = shop_bot(shop)
    tool = bot.tools["order_status"].model_copy(update={"allow_private": False})
    bot = bot.model_copy(update={"tools": {"order_status": tool}})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where is my order 10023?")
        (completed,) = [e.data for e in events if e.type == "tool.completed"]
        assert completed["code"] == "tool_address_refused" and completed["http_status"] is None
        assert "loopback" in completed["message"]
        assert _text(events).startswith("Sorry, I can't check that right now")
        assert shop.seen == []


async def test_a_flow_that_times_out_in_its_call_still_closes_the_call(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """The flow's own timeout stops a slow call: tool.completed says so, the flow fails, the
    answer goes on without it, and the flow run keeps the call."""
    bot = shop_bot(shop, path="/slow", query=True, timeout_seconds=0.5)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where is my order 10023?")
        types = [e.type for e in events]
        assert types[2:6] == ["flow.started", "tool.started", "tool.completed", "flow.failed"]
        assert events[4].data["code"] == "tool_cancelled" and events[4].data["status"] == "error"
        assert events[5].data["code"] == "flow_timeout"
        assert events[-1].data["status"] == "completed" and _text(events)  # main answered
        async with server.db.read() as conn:
            run = (
                await conn.execute(
                    select(FlowRun.status, FlowRun.tool).where(FlowRun.flow == "orders")
                )
            ).one()
        assert run.status == "failed" and run.tool["code"] == "tool_cancelled"


async def test_main_is_given_the_result_or_the_stated_failure(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """Without verbatim_answer, main writes the answer from the flow's output."""
    failed_text = {"en": "The order system is down; tell the visitor to try again later."}
    good = shop_bot(shop, verbatim_answer=False)
    async with run_server(make_settings, bot=good) as server:
        events = await ask(server.client, "Where is my order 10024?")
        assert [e.data["status"] for e in events if e.type == "tool.completed"] == ["completed"]
        system = fake_llm.requests[-1]["messages"][0]["content"]
        assert system == "[orders: Order 10024 is packing; delivery 2026-12-11.]"
    bad = shop_bot(
        shop, path="/not-json", query=True, verbatim_answer=False, tool_failed=failed_text
    )
    async with run_server(make_settings, bot=bad) as server:
        events = await ask(server.client, "Where is my order 10024?")
        codes = [e.data["code"] for e in events if e.type == "tool.completed"]
        assert codes == ["tool_bad_json"]
        system = fake_llm.requests[-1]["messages"][0]["content"]
        assert system == f"[orders: {failed_text['en']}]"


async def test_the_verified_end_user_fills_an_argument_and_is_redacted(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    """`source: user`: a visitor signed in by the site asks about their own orders; an
    anonymous one is asked to sign in. The argument is secret in the schema: redacted."""
    bot = shop_bot(
        shop,
        path="/api/customers/{customer}/orders",
        query=True,
        arguments={"order": {"pattern": r"\b(\d{5})\b"}, "customer": {"source": "user"}},
        template="{{ tool.result }}",
    )
    tools = bot.tools["order_status"].model_copy(
        update={
            "response": {"first": "orders.0.status"},
            "arguments": {
                **bot.tools["order_status"].arguments,
                "required": ["order", "customer"],
            },
        }
    )
    bot = bot.model_copy(update={"tools": {"order_status": tools}})
    async with run_server(make_settings, bot=bot) as server:
        async with server.db.write() as conn:
            key = await create_key(
                conn, kind="publishable", name="p", bot_id="vinhuset", allowed_origins=[SITE]
            )
        headers = {"authorization": f"Bearer {key.key}", "origin": SITE}
        secret = identity_secret(b"test-secret", key.info.id)
        kari = "kari@example.com"
        signed = await server.client.post(
            "/v1/bots/vinhuset/tokens",
            json={"user_id": kari, "user_hash": user_hash(secret, kari)},
            headers=headers,
        )
        anonymous = await server.client.post("/v1/bots/vinhuset/tokens", json={}, headers=headers)
        assert signed.status_code == anonymous.status_code == 201, signed.text

        as_kari = {"authorization": f"Bearer {signed.json()['token']}", "origin": SITE}
        events = await ask(server.client, "Where is my order 10024?", headers=as_kari)
        started = next(e.data for e in events if e.type == "tool.started")
        assert started["arguments"] == {"order": "10024", "customer": "[redacted]"}
        assert _text(events) == "{'first': 'packing'}"
        assert shop.seen[-1].raw_path == "/api/customers/kari%40example.com/orders?order=10024"

        as_anonymous = {"authorization": f"Bearer {anonymous.json()['token']}", "origin": SITE}
        events = await ask(server.client, "Where is my order 10024?", headers=as_anonymous)
        assert _text(events) == "Please sign in first: I can only look up your own customer."
        assert not [e for e in events if e.type.startswith("tool.")]

        async with server.db.read() as conn:
            stored = (await conn.execute(select(LoggedEvent.data))).scalars().all()
            tools_run = (await conn.execute(select(FlowRun.tool))).scalars().all()
        assert not [d for d in stored if kari in d and "tool." in d]
        assert [t["arguments"] for t in tools_run if t] == [
            {"order": "10024", "customer": "[redacted]"}
        ]


@pytest.mark.parametrize(
    ("message", "path", "answer"),
    [
        ("Where is my order 10023?", None, "Order 10023 is shipped; delivery 2026-12-09."),
        (
            "Hvor er bestillingen min 10023?",
            None,
            "Bestilling 10023 er shipped, levering 2026-12-09.",
        ),
        (
            "Where is my order?",
            None,
            "What is your order number? It has five digits and is in your confirmation email.",
        ),
        (
            "Where is my order 10023?",
            "/broken",
            "Sorry, I can't see orders right now. Please try again in a few minutes.",
        ),
    ],
)
async def test_the_docs_worked_example_answers_as_documented(
    make_settings: Settings,
    fake_llm: FakeLLM,
    shop: FakeShop,
    message: str,
    path: str | None,
    answer: str,
) -> None:
    """docs/tools.md's example bot, pointed at the local shop, gives its table's answers."""
    from tests.tools.test_tool_validation import docs_example

    document = docs_example()
    tool = document["tools"]["order_status"]
    tool["url"] = shop.base_url + (path or "/api/orders/{order}")
    tool["allow_private"] = True
    if path is not None:
        tool["query"] = {"order": "{order}"}
    document["allowed_hosts"] = ["127.0.0.1"]
    bot = BotConfig.model_validate({**document, "id": "vinhuset"})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, message)
        assert _text(events) == answer
        assert fake_llm.requests == []
