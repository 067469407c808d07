"""A bot's tool limits: calls per answer, calls in progress at once, and calls per end user
per minute (a call beyond fails with its code; a confirmation sent then is refused with 429).
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chinwag.config.bot import BotConfig
from chinwag.config.limits import LimitsConfig
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from chinwag.testing.server import ThreadedServer
from chinwag.tools.call import ToolCaller
from tests.conftest import run_server
from tests.helpers import ask, assert_problem
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_confirmations import cancel_bot
from tests.tools.test_tool_flows import shop_bot

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.setenv("SHOP_API_TOKEN", TOKEN)
    with FakeShop() as running:
        yield running


def limited(bot: BotConfig, **limits: Any) -> BotConfig:
    data = bot.model_dump()
    data["limits"] = LimitsConfig(**limits).model_dump(exclude_none=True)
    return BotConfig.model_validate(data)


def _completed(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == "tool.completed"]


async def test_calls_per_answer(make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop) -> None:
    data = shop_bot(shop).model_dump()
    data["flows"]["again"] = {**data["flows"]["orders"]}  # a second flow calling the tool
    bot = limited(BotConfig.model_validate(data), tool_calls_per_message=1)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Where is my order 10023?")
        codes = sorted(str(c["code"]) for c in _completed(events))
        assert codes == ["None", "tool_limit_reached"]  # the flows ran at once; one was refused
        assert shop.hits("/api/orders/10023") == 1
        assert events[-1].data["status"] == "completed"  # the answer goes on


async def test_calls_per_end_user_per_minute(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    bot = limited(shop_bot(shop), tool_calls_per_user="2/minute")
    async with run_server(make_settings, bot=bot) as server:
        for _ in range(2):
            events = await ask(server.client, "Where is my order 10023?", user_id="kari")
            assert _completed(events)[0]["status"] == "completed"
        third = await ask(server.client, "Where is my order 10023?", user_id="kari")
        (refused,) = _completed(third)
        assert refused["code"] == "tool_rate_limited" and "2/minute" in refused["message"]
        text = "".join(e.data["text"] for e in third if e.type == "message.delta")
        assert text.startswith("Sorry, I can't check that right now")  # stated, not made up
        other = await ask(server.client, "Where is my order 10023?", user_id="ola")
        assert _completed(other)[0]["status"] == "completed"  # another person's own budget
        assert shop.hits("/api/orders/10023") == 3


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:6379/0"], ids=["memory", "redis"])
async def test_calls_per_end_user_are_counted_exactly_across_a_windows_boundary(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop, redis_url: str | None
) -> None:
    """Weighted window counters round down: with `1 per 6 seconds` a second call sent just after
    a window's boundary went through. Tool calls (a cancel, a booking) are counted exactly, in
    each server's memory and in Redis. The first call starts 3 s before the boundary, so that a
    slow first answer on a loaded machine still leaves the second within 6 s of it."""
    bot = limited(shop_bot(shop), tool_calls_per_user="1 per 6 seconds")
    settings = make_settings.model_copy(update={"redis_url": redis_url})
    user = f"kari-{uuid.uuid4().hex[:8]}"  # Redis is shared with the tests running alongside
    async with run_server(settings, bot=bot) as server:
        await asyncio.sleep((3.0 - time.time() % 6) % 6)  # half way through a window of 6 s
        boundary = (time.time() // 6 + 1) * 6
        first = await ask(server.client, "Where is my order 10023?", user_id=user)
        assert _completed(first)[0]["status"] == "completed"
        await asyncio.sleep(max(0.0, boundary + 0.05 - time.time()))  # the next window
        assert time.time() < boundary + 2.9  # < 6 s after the first call: still within its limit
        second = await ask(server.client, "Where is my order 10023?", user_id=user)
        assert _completed(second)[0]["code"] == "tool_rate_limited"
        assert shop.hits("/api/orders/10023") == 1


async def test_a_confirmation_beyond_the_limit_is_refused_with_429(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    with FakeShop() as shop:
        bot = limited(cancel_bot(shop), tool_calls_per_user="1/minute")
        async with run_server(make_settings, bot=bot) as server:
            turn = {"user_id": "kari", "session_id": "cancel-chat"}
            actions = []
            for order in ("10023", "10024"):
                events = await ask(server.client, f"Cancel order {order}", **turn)
                actions += [e.data["action_id"] for e in events if e.type == "tool.confirmation"]
            confirm = {"confirm": {"action_id": actions[0], "decision": "confirm"}, **turn}
            await ask(server.client, "Confirm", **confirm)
            refused = await server.client.post(
                "/v1/bots/vinhuset/messages",
                json={
                    "message": "Confirm",
                    "confirm": {"action_id": actions[1], "decision": "confirm"},
                    **turn,
                },
            )
            assert_problem(refused, 429, "tool_rate_limited")
            assert int(refused.headers["retry-after"]) >= 1
            assert shop.hits("/echo/orders/10023/cancel") == 1
            assert shop.hits("/echo/orders/10024/cancel") == 0


class InFlight(ThreadedServer):
    """Answers after 0.3 s and counts the requests it holds at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/slow"

    def app(self) -> Starlette:
        async def slow(_: Request) -> JSONResponse:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            await asyncio.sleep(0.3)
            with self._lock:
                self.now -= 1
            return JSONResponse({})

        return Starlette(routes=[Route("/slow", slow)])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_calls_in_progress_at_once(database_url: str) -> None:
    with InFlight() as remote:
        tool = {"url": remote.url, "allow_private": True}
        for concurrent, expected in ((2, 2), (None, 5)):
            bot = limited(
                BotConfig.model_validate(
                    {
                        "id": "b",
                        "name": "B",
                        "allowed_hosts": ["127.0.0.1"],
                        "tools": {"slow": tool},
                        "flows": {"main": {"template": "{{ message }}"}},
                    }
                ),
                tool_calls_concurrent=concurrent,
            )
            remote.most = 0
            caller = ToolCaller()
            outcomes = await asyncio.gather(*(caller.call(bot, "slow", {}) for _ in range(5)))
            assert [o.status for o in outcomes] == ["completed"] * 5
            assert remote.most == expected
