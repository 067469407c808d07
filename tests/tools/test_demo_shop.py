"""The demo shop's own API (served by `chinwag demo`) and the vinhuset bot's tools on it: an
order's status and delivery date in English and Norwegian, a question for a missing order
number, and live stock beside the wine table, on the embedded models (no LLM is called)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from chinwag.bots.demo import demo_bot_config, demo_bot_source, demo_shop_origin
from chinwag.settings import Settings
from chinwag.web.demo_shop import demo_shop_app
from tests.conftest import RunningServer, run_server
from tests.helpers import ask

pytestmark = pytest.mark.timeout(120)
IN_TWO_DAYS = (date.today() + timedelta(days=2)).isoformat()


async def shop_client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=demo_shop_app())
    return httpx.AsyncClient(transport=transport, base_url="http://shop")


async def test_the_shop_api_serves_orders_stock_and_cancels_once() -> None:
    async with await shop_client() as shop:
        order = (await shop.get("/orders/10023")).json()["order"]
        assert order["status"] == "shipped" and order["delivery"] == {"date": IN_TWO_DAYS}
        assert (await shop.get("/orders/99999")).status_code == 404
        stock = (await shop.get("/stock", params={"q": "Is the Barolo in stock?"})).json()
        assert stock == {"wines": {"Barolo Sorì del Vento": 7}}
        # A word many names share names no wine; neither does a question about none.
        assert (await shop.get("/stock", params={"q": "any rosé?"})).json() == {"wines": {}}
        cancelled = await shop.post("/orders/10023/cancel")
        assert cancelled.json()["changed"] is True
        assert cancelled.json()["order"]["status"] == "cancelled"
        again = (await shop.post("/orders/10023/cancel")).json()
        assert again["changed"] is False  # its bottles went back on the shelf once
        barolo = (await shop.get("/stock", params={"q": "barolo"})).json()["wines"]
        assert barolo == {"Barolo Sorì del Vento": 9}
        delivered = await shop.post("/orders/10025/cancel")
        assert delivered.status_code == 409 and "delivered" in delivered.json()["error"]


def test_the_demo_bot_calls_the_shop_where_the_demo_serves_it() -> None:
    origin = demo_shop_origin("0.0.0.0", 8123)
    assert origin == "http://127.0.0.1:8123"
    bot = demo_bot_config(origin)
    assert bot.tools["order_status"].url == origin + "/demo/shop-api/orders/{order}"
    assert bot.allowed_hosts == ["127.0.0.1"]
    lan = demo_bot_config(demo_shop_origin("192.168.1.20", 9000))
    assert lan.tools["stock"].url == "http://192.168.1.20:9000/demo/shop-api/stock"
    assert lan.allowed_hosts == ["192.168.1.20"]
    source = demo_bot_source("url: http://127.0.0.1:8000/demo/shop-api/stock\n", origin)
    assert source == f"url: {origin}/demo/shop-api/stock\n"


@pytest.fixture
async def demo(make_settings: Settings) -> AsyncIterator[RunningServer]:
    """The demo bot and its shop on one server, on the embedded models; no documents (an order
    or a stock question needs none)."""
    settings = make_settings.model_copy(update={"llm_base_url": None, "llm_model": None})
    runner = run_server(settings, demo_shop=True)
    assert runner.bot is not None
    runner.bot = runner.bot.model_copy(update={"knowledge": None})
    async with runner as server:
        yield server


def _answer(events: list[object]) -> str:
    completed = [e for e in events if e.type == "message.completed"]  # type: ignore[attr-defined]
    assert len(completed) == 1, events
    text: str = completed[0].data["text"]  # type: ignore[attr-defined]
    return text


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_where_is_my_order_is_answered_from_the_demo_shop(demo: RunningServer) -> None:
    events = await ask(demo.client, "Where is my order 10023?")
    route = next(e for e in events if e.type == "route.decided")
    assert route.data["flows"] == ["main", "orders"]
    completed = next(e for e in events if e.type == "tool.completed")
    assert completed.data["tool"] == "order_status" and completed.data["http_status"] == 200
    assert _answer(events) == (
        f"Order 10023 has been shipped and will be delivered on {IN_TWO_DAYS}."
    )

    events = await ask(demo.client, "Hvor er bestillingen min 10023?")
    assert _answer(events) == f"Bestilling 10023 er sendt og blir levert {IN_TWO_DAYS}."

    events = await ask(demo.client, "Where is my order?")
    assert not [e for e in events if e.type.startswith("tool.")]  # no call without a number
    assert _answer(events) == (
        "What is your order number? It has five digits and is in your order confirmation."
    )

    events = await ask(demo.client, "Where is my order 99999?")
    failed = next(e for e in events if e.type == "tool.completed")
    assert failed.data["code"] == "tool_http_error" and failed.data["http_status"] == 404
    assert _answer(events).startswith("Sorry, I could not look that order up.")


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_order_number_is_asked_for_then_kept_for_a_follow_up(
    demo: RunningServer,
) -> None:
    turn = {"user_id": "kari", "session_id": "where-is-it"}
    asked = await ask(demo.client, "Where is my order?", **turn)
    assert _answer(asked).startswith("What is your order number?")
    shipped = f"Order 10023 has been shipped and will be delivered on {IN_TWO_DAYS}."
    assert _answer(await ask(demo.client, "10023", **turn)) == shipped
    follow_up = await ask(demo.client, "And when will it arrive?", **turn)
    assert next(e for e in follow_up if e.type == "tool.started").data["arguments"] == {
        "order": "10023"
    }
    assert _answer(follow_up) == shipped


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_stock_comes_live_from_the_shop_beside_the_table(demo: RunningServer) -> None:
    question = "How many bottles of the Barolo do you have left?"
    events = await ask(demo.client, question)
    stock = next(e for e in events if e.type == "tool.completed")
    assert stock.data["tool"] == "stock" and stock.data["status"] == "completed"
    assert "we have 7 bottles in stock right now" in _answer(events)
    # Order 10023 (two Barolo) is cancelled in the shop: the shelf has two more at once.
    async with httpx.AsyncClient(base_url=demo.base_url) as shop:
        cancelled = await shop.post("/demo/shop-api/orders/10023/cancel")
        assert cancelled.json()["changed"] is True
    assert "we have 9 bottles in stock right now" in _answer(await ask(demo.client, question))
    norwegian = _answer(await ask(demo.client, "Hvor mange flasker Barolo har dere igjen?"))
    assert "og vi har 9 flasker på lager akkurat nå" in norwegian


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_table_answers_when_the_stock_system_does_not(
    make_settings: Settings,
) -> None:
    """`tool_optional`: the shop API is not served here, so the stock call fails and the
    table's own figures answer, marked as the failed call in its event."""
    bot = demo_bot_config("http://127.0.0.1:9").model_copy(update={"knowledge": None})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "How many bottles of the Barolo do you have left?")
        stock = next(e for e in events if e.type == "tool.completed")
        assert stock.data["status"] == "error" and stock.data["code"] == "tool_unreachable"
        text = _answer(events)
        assert "Barolo Sorì del Vento (red, Italy) costs 689 NOK" in text
        assert "we have 7 bottles in stock." in text  # last night's table, not "right now"
