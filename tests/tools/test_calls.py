"""One tool call against a real HTTP server: what reaches it, what comes back, and every way a
call fails, each with its stable code (no database: ToolCaller on its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from chinwag.config.bot import BotConfig
from chinwag.tools.call import ToolCaller, ToolOutcome
from tests.tools.shop import TOKEN, FakeShop

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def shop() -> Iterator[FakeShop]:
    with FakeShop() as running:
        yield running


def bot_with(shop: FakeShop, **tools: dict[str, Any]) -> BotConfig:
    """A bot whose tools call the shop (allowed, on its own network)."""
    return BotConfig.model_validate(
        {
            "id": "shop",
            "name": "Shop",
            "flows": {"main": {"template": "{{ message }}"}},
            "allowed_hosts": ["127.0.0.1", "localhost"],
            "tools": {
                name: {"allow_private": True, **tool, "url": shop.base_url + tool["url"]}
                for name, tool in tools.items()
            },
        }
    )


ORDER_TOOL = {
    "url": "/api/orders/{order}",
    "headers": {"Authorization": "Bearer ${SHOP_API_TOKEN}"},
    "arguments": {
        "type": "object",
        "properties": {"order": {"type": "string", "pattern": "^[0-9]{5}$"}},
        "required": ["order"],
    },
    "response": {"status": "order.status", "delivery": "order.delivery.date"},
}
ENV = {"SHOP_API_TOKEN": TOKEN}


async def call(
    bot: BotConfig, name: str, env: dict[str, str] | None = None, **values: Any
) -> ToolOutcome:
    return await ToolCaller(ENV if env is None else env).call(bot, name, values)


async def test_a_call_sends_the_secret_and_maps_the_response(shop: FakeShop) -> None:
    outcome = await call(bot_with(shop, order_status=ORDER_TOOL), "order_status", order="10023")
    assert outcome.status == "completed", outcome.error
    assert outcome.result == {"status": "shipped", "delivery": "2026-12-09"}
    assert outcome.http_status == 200 and outcome.bytes > 0 and outcome.attempts == 1
    seen = shop.seen[-1]
    assert seen.raw_path == "/api/orders/10023"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["host"] == f"127.0.0.1:{shop.port}"
    assert TOKEN not in repr(outcome.record())


async def test_the_host_header_is_always_the_checked_name(shop: FakeShop) -> None:
    """Even a configuration that slips a Host header past validation cannot redirect it."""
    tool = {**ORDER_TOOL, "headers": {**ORDER_TOOL["headers"], "Host": "metadata.internal"}}
    outcome = await call(bot_with(shop, t=tool), "t", order="10023")
    assert outcome.status == "completed", outcome.error
    assert shop.seen[-1].headers["host"] == f"127.0.0.1:{shop.port}"


async def test_arguments_are_checked_before_any_call(shop: FakeShop) -> None:
    before = len(shop.seen)
    bot = bot_with(shop, order_status=ORDER_TOOL)
    outcome = await call(bot, "order_status", order="1/../../admin")
    assert outcome.status == "error" and outcome.code == "tool_arguments_invalid"
    assert "does not match" in (outcome.error.message if outcome.error else "")
    missing = await call(bot, "order_status")
    assert missing.code == "tool_arguments_invalid" and "order" in str(missing.error)
    assert len(shop.seen) == before  # nothing was sent


async def test_a_secret_argument_is_never_quoted_by_the_schema_check(shop: FakeShop) -> None:
    tool = {
        "url": "/echo/x",
        "arguments": {
            "type": "object",
            "properties": {
                "pin": {"type": "string", "x-secret": True, "pattern": "^[0-9]{4}$"},
                "note": {"type": "string"},
            },
            "additionalProperties": False,
            "minProperties": 3,
        },
    }
    outcome = await call(bot_with(shop, t=tool), "t", pin="hunter2", note="hi")
    assert outcome.code == "tool_arguments_invalid"
    assert "hunter2" not in str(outcome.error) and "hunter2" not in repr(outcome.record())
    assert outcome.arguments == {"pin": "[redacted]", "note": "hi"}


async def test_visitor_text_is_one_encoded_path_segment(shop: FakeShop) -> None:
    tool = {
        "url": "/echo/{text}",
        "query": {"q": "{text}", "fixed": "yes"},
        "arguments": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    hostile = "../../admin?x=1#frag/@evil.example:80 ${SHOP_API_TOKEN}\r\nX-Injected: 1"
    await call(bot_with(shop, echo=tool), "echo", text=hostile)
    seen = shop.seen[-1]
    path, _, query = seen.raw_path.partition("?")
    assert path.startswith("/echo/") and path.count("/") == 2  # one segment, structure kept
    assert "%2F" in path and "%3F" in path and "%23" in path and "%40" in path
    assert "x-injected" not in seen.headers and seen.headers["host"].startswith("127.0.0.1")
    assert TOKEN not in seen.raw_path  # `${…}` in a visitor's text is text, not a secret
    assert "fixed=yes" in query and seen.method == "GET"


async def test_dot_segments_cannot_climb_the_path(shop: FakeShop) -> None:
    tool = {
        "url": "/echo/{text}",
        "arguments": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    outcome = await call(bot_with(shop, echo=tool), "echo", text="..")
    assert outcome.status == "completed"
    assert shop.seen[-1].raw_path == "/echo/%2E%2E"


async def test_a_post_body_takes_typed_arguments(shop: FakeShop) -> None:
    tool = {
        "method": "POST",
        "url": "/echo/orders",
        "body": {"order": "{order}", "quantity": "{quantity}", "note": "order {order}"},
        "arguments": {
            "type": "object",
            "properties": {"order": {"type": "string"}, "quantity": {"type": "integer"}},
        },
    }
    outcome = await call(bot_with(shop, add=tool), "add", order="10023", quantity=2)
    assert outcome.status == "completed", outcome.error
    assert shop.seen[-1].method == "POST"
    assert shop.seen[-1].body == b'{"order":"10023","quantity":2,"note":"order 10023"}'


@pytest.mark.parametrize(
    ("path", "code", "http_status"),
    [
        ("/broken", "tool_server_error", 503),
        ("/not-json", "tool_bad_json", 200),
        ("/big", "tool_response_too_large", 200),
        ("/redirect", "tool_redirect_refused", 302),
        ("/api/orders/99999", "tool_http_error", 401),
    ],
)
async def test_each_failure_has_its_code(
    shop: FakeShop, path: str, code: str, http_status: int
) -> None:
    tool = {"url": path, "max_response_bytes": 50_000}
    outcome = await call(bot_with(shop, t=tool), "t")
    assert (outcome.status, outcome.code, outcome.http_status) == ("error", code, http_status)
    assert outcome.error is not None and outcome.error.hint


async def test_a_redirect_is_never_followed(shop: FakeShop) -> None:
    outcome = await call(bot_with(shop, t={"url": "/redirect"}), "t")
    assert outcome.code == "tool_redirect_refused"
    assert shop.seen[-1].raw_path == "/redirect"  # the metadata address was not asked


async def test_a_response_without_a_mapped_field_is_a_mismatch(shop: FakeShop) -> None:
    tool = {**ORDER_TOOL, "response": {"status": "order.state"}}
    outcome = await call(bot_with(shop, t=tool), "t", order="10023")
    assert outcome.code == "tool_response_mismatch" and "order.state" in str(outcome.error)


async def test_a_slow_tool_times_out(shop: FakeShop) -> None:
    outcome = await call(bot_with(shop, t={"url": "/slow", "timeout_seconds": 0.3}), "t")
    assert outcome.code == "tool_timeout" and outcome.ms < 2000


async def test_only_idempotent_methods_are_retried(shop: FakeShop) -> None:
    get = await call(bot_with(shop, t={"url": "/broken", "retries": 2}), "t")
    assert get.code == "tool_server_error" and get.attempts == 3
    posts = shop.hits("/broken")
    post = await call(bot_with(shop, t={"url": "/broken", "method": "POST"}), "t")
    assert post.code == "tool_server_error" and post.attempts == 1
    assert shop.hits("/broken") == posts + 1


async def test_a_secret_that_is_not_set_stops_the_call(shop: FakeShop) -> None:
    before = len(shop.seen)
    outcome = await call(bot_with(shop, t=ORDER_TOOL), "t", env={}, order="10023")
    assert outcome.code == "tool_secret_not_set" and "SHOP_API_TOKEN" in str(outcome.error)
    assert len(shop.seen) == before


@pytest.mark.parametrize("unsendable", ["\r\nX-Evil: 1", "\nX-Evil: 1", "\x00", "\x1b[0m"])
async def test_a_secret_that_is_not_a_header_value_is_never_sent_nor_quoted(
    shop: FakeShop, caplog: pytest.LogCaptureFixture, unsendable: str
) -> None:
    env = {"SHOP_API_TOKEN": f"abc-secret{unsendable}"}
    outcome = await call(bot_with(shop, t=ORDER_TOOL), "t", env=env, order="10023")
    assert outcome.status == "error" and outcome.code == "tool_failed"
    assert "abc-secret" not in str(outcome.error) and "abc-secret" not in caplog.text
    assert not [s for s in shop.seen if "x-evil" in s.headers]
    assert not [s for s in shop.seen if "abc-secret" in s.headers.get("authorization", "")]


async def test_an_unreachable_host_says_so() -> None:
    bot = BotConfig.model_validate(
        {
            "id": "shop",
            "name": "Shop",
            "flows": {"main": {"template": "{{ message }}"}},
            "allowed_hosts": ["127.0.0.1"],
            "tools": {"t": {"url": "http://127.0.0.1:9/x", "allow_private": True}},
        }
    )
    outcome = await call(bot, "t")
    assert outcome.code == "tool_unreachable"


async def test_parallel_calls_do_not_wait_for_each_other(shop: FakeShop) -> None:
    bot = bot_with(shop, order_status=ORDER_TOOL)
    caller = ToolCaller(ENV)
    outcomes = await asyncio.gather(
        *(caller.call(bot, "order_status", {"order": "10023"}) for _ in range(10))
    )
    assert all(o.status == "completed" for o in outcomes)


async def test_kept_connections_are_per_host_name_and_closed_at_the_end() -> None:
    """A connection verified for one name is never lent for another sharing its address; an
    idle one is lent again; the least recently used remote is closed beyond the cap."""
    from chinwag.tools.connections import ToolConnections

    kept = ToolConnections(remotes_kept=2)
    async with (
        kept.lease("https", "shop.example", 443, None) as shop,
        kept.lease("https", "shop.example", 443, None) as busy,
    ):
        assert busy is not shop  # lent to one call at a time
    async with kept.lease("https", "SHOP.example", 443, None) as again:
        assert again in (shop, busy)
    async with kept.lease("https", "other.example", 443, None) as other:
        assert other not in (shop, busy)  # same address, maybe: never shared
    async with kept.lease("http", "third.example", 80, None):
        pass
    assert kept.remotes == 2  # shop.example's were closed, least recently used
    await kept.aclose()
    assert kept.remotes == 0 and other.closed and shop.closed
