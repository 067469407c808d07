"""429 with Retry-After under a burst, per-bot limits, open streams per user, body limits."""

from __future__ import annotations

import asyncio

from redis import Redis
from sqlalchemy import func, select

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.conversations.models import Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.auth.conftest import SITE, Keys, user_token
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.faults.processes import RedisServer
from tests.helpers import JSON


async def test_a_burst_meets_429_with_retry_after(make_settings: Settings) -> None:
    # Per day, not per minute: the counters weigh the previous fixed window by the share of it
    # still inside the sliding window, rounded down, so a burst across a window boundary can
    # get one more through; a day's boundary is one the test does not cross.
    settings = make_settings.model_copy(update={"rate_limit_key": "5/day"})
    async with run_server(settings) as server:
        async with server.db.write() as conn:
            secret = (await create_key(conn, kind="secret", name="s", bot_id="vinhuset")).key
        statuses = []
        for _ in range(8):
            response = await server.client.get("/v1/bots/vinhuset", headers=Keys.bearer(secret))
            statuses.append(response.status_code)
        assert statuses == [200] * 5 + [429] * 3
        assert 1 <= int(response.headers["retry-after"]) <= 86_400
        problem = response.json()
        assert problem["code"] == "rate_limited" and problem["hint"] and problem["retry_after"]
        # Admin keys are not limited.
        assert (await server.client.get("/v1/bots/vinhuset")).status_code == 200


async def test_a_bots_own_limits_apply_per_end_user(server: RunningServer, keys: Keys) -> None:
    """The bot's `per_user` (2/minute, not the server's 30) limits each end user on their own:
    the third message of one user is refused, another user of the same key still sends."""
    bot = plain_demo_bot()
    limited = type(bot).model_validate({**bot.model_dump(), "limits": {"per_user": "2/minute"}})
    async with server.db.write() as conn:
        await put_bot(conn, limited)
    alice, bob = [await user_token(server.client, keys.publishable) for _ in range(2)]

    async def send(token: str) -> int:
        response = await server.client.post(
            "/v1/bots/vinhuset/messages",
            json={"message": "Hei"},
            headers={**JSON, **Keys.bearer(token, SITE)},
        )
        return response.status_code

    assert [await send(alice) for _ in range(3)] == [202, 202, 429]
    assert [await send(bob) for _ in range(3)] == [202, 202, 429]


async def test_open_streams_per_user_are_bounded(
    server: RunningServer, keys: Keys, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.first_token_delay = 3
    body = {"message": "Hei", "user_id": "busy"}
    headers = {**JSON, **Keys.bearer(keys.secret)}
    codes = [
        (await server.client.post("/v1/bots/vinhuset/messages", json=body, headers=headers))
        for _ in range(4)
    ]
    assert [c.status_code for c in codes] == [202, 202, 202, 429]
    assert codes[-1].json()["code"] == "too_many_open_streams"
    async with server.db.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(Message))).scalar()
    assert count == 6  # the refused message wrote nothing


async def test_body_and_message_size_limits(server: RunningServer) -> None:
    big = await server.client.post(
        "/v1/bots/vinhuset/messages",
        content=b'{"message": "' + b"x" * 300_000 + b'"}',
        headers={**JSON, "content-type": "application/json"},
    )
    assert big.status_code == 413 and big.json()["code"] == "body_too_large"
    long = await server.client.post(
        "/v1/bots/vinhuset/messages", json={"message": "x" * 32_001}, headers=JSON
    )
    assert long.status_code == 422 and long.json()["errors"][0]["path"] == "body.message"
    wrong = await server.client.delete("/v1/bots/vinhuset/messages")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    missing = await server.client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["content-type"] == (
        "application/problem+json"
    )


async def test_limits_are_shared_through_redis(make_settings: Settings) -> None:
    settings = make_settings.model_copy(
        update={"rate_limit_key": "3/minute", "redis_url": "redis://127.0.0.1:6379/0"}
    )
    async with run_server(settings) as first, run_server(settings, seed_demo=False) as second:
        async with first.db.write() as conn:
            secret = (await create_key(conn, kind="secret", name="s", bot_id="vinhuset")).key
        codes = []
        for server in (first, second, first, second):
            response = await server.client.get("/v1/bots/vinhuset", headers=Keys.bearer(secret))
            codes.append(response.status_code)
        # Two servers, one counter: the fourth request is over the limit on either.
        assert codes == [200, 200, 200, 429]
        assert int(response.headers["retry-after"]) >= 1


async def test_limits_go_on_in_each_server_while_redis_is_down(
    make_settings: Settings, redis_server: RedisServer
) -> None:
    """Redis stopped: no 500, the limits count in the server's memory meanwhile (logged,
    counted), and the shared counters are used again once Redis answers."""
    settings = make_settings.model_copy(
        update={"rate_limit_key": "3/minute", "redis_url": redis_server.url}
    )
    async with run_server(settings) as server:
        async with server.db.write() as conn:
            secret = (await create_key(conn, kind="secret", name="s", bot_id="vinhuset")).key
        await asyncio.to_thread(redis_server.stop)
        codes = [
            (await server.client.get("/v1/bots/vinhuset", headers=Keys.bearer(secret))).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        metrics = (await server.client.get("/metrics")).text
        assert 'chinwag_redis_failures_total{operation="rate_limit"}' in metrics

        await asyncio.to_thread(redis_server.start)
        await asyncio.sleep(1.1)  # the server leaves Redis alone for a second after a failure
        again = await server.client.get("/v1/bots/vinhuset", headers=Keys.bearer(secret))
        assert again.status_code == 200  # a fresh count in Redis, not the memory's 4
        assert Redis(port=redis_server.port).dbsize() > 0
