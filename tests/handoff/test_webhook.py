"""The handoff webhook: a signed POST when a conversation starts waiting, sent from the outbox
by any worker, retried with backoff, every delivery recorded; each refusal, and the secret
never shown."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chinwag.config.bot import BotConfig
from chinwag.config.handoff import HandoffWebhook
from chinwag.conversations.models import WebhookDelivery
from chinwag.errors import (
    WebhookAddressRefused,
    WebhookError,
    WebhookHostNotAllowed,
    WebhookRedirectRefused,
    WebhookRejected,
    WebhookSecretNotSet,
    WebhookServerError,
    WebhookTimeout,
)
from chinwag.handoff.deliveries import deliver_due
from chinwag.handoff.webhook import RESPONSE_CAP_BYTES, WebhookSender
from chinwag.settings import Settings
from chinwag.testing.server import ThreadedServer, free_port
from tests.conftest import run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop
from tests.helpers import ROOT, accept, assert_problem, wait_finished

SECRET = "whsec-not-to-be-shown-0f9e"
ENV = "VINHUSET_HOOK_SECRET"


@dataclass
class Receiver(ThreadedServer):
    """The shop's webhook receiver: records each request; answers as scripted."""

    statuses: list[int] = field(default_factory=list)  # answers in order, then 200
    delay: float = 0.0
    body_size: int = 0
    seen: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(free_port())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hook"

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.seen.append((time.monotonic(), dict(request.headers), await request.body()))
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.statuses.pop(0) if self.statuses else 200
            headers = {"location": f"http://127.0.0.1:{self._port}/elsewhere"}
            return Response(b"x" * self.body_size, status_code=status, headers=headers)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def hooked_bot(url: str, **hook: Any) -> BotConfig:
    webhook = {"url": url, "secret_env": ENV, "allow_private": True, **hook}
    bot = handoff_bot(webhook=webhook)
    return bot.model_copy(update={"allowed_hosts": ["127.0.0.1"]})


@pytest.fixture
async def shop(
    make_settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Shop]:
    monkeypatch.setenv(ENV, SECRET)
    settings = make_settings.model_copy(update={"webhook_retry_seconds": 0.2})
    async with run_server(settings, bot=hooked_bot(receiver.url)) as server:
        yield await open_shop(server)


def doc_verify() -> Callable[..., bool]:
    """The `verify` function of docs/handoff.md's Notifications section."""
    text = (ROOT / "docs" / "handoff.md").read_text()
    start = text.index("```python", text.index("## Notifications")) + len("```python")
    scope: dict[str, Any] = {}
    exec(text[start : text.index("```", start)], scope)  # the doc's own example
    verify: Callable[..., bool] = scope["verify"]
    return verify


async def _ask(shop: Shop, text: str = "Hei") -> str:
    sent = await accept(shop.client, {"message": text}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    asked = await shop.client.post(f"/v1/bots/{BOT}/sessions/{session}/handoff", headers=shop.alice)
    assert asked.status_code == 200, asked.text
    return session


async def _settled(shop: Shop, count: int = 1) -> list[Any]:
    """The deliveries once none is pending (within 10 s)."""
    for _ in range(200):
        async with shop.server.db.read() as conn:
            rows = (await conn.execute(select(WebhookDelivery))).all()
        if len(rows) == count and all(r.status != "pending" for r in rows):
            return list(rows)
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries not settled: {rows}")


async def test_a_waiting_conversation_is_posted_signed(shop: Shop, receiver: Receiver) -> None:
    session = await _ask(shop)
    (row,) = await _settled(shop)
    assert (row.status, row.attempts, row.last_http_status) == ("delivered", 1, 200)
    ((_, headers, body),) = receiver.seen
    stamp = headers["x-chinwag-timestamp"]
    assert abs(int(stamp) - time.time()) < 30
    signed = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-chinwag-signature"] == f"sha256={signed}"
    assert headers["x-chinwag-delivery"] == row.id
    assert headers["content-type"] == "application/json"
    # The receiver's check in docs/handoff.md accepts it, and refuses it changed or late.
    verify = doc_verify()
    assert verify(SECRET, stamp, body, headers["x-chinwag-signature"])
    assert not verify(SECRET, stamp, body + b" ", headers["x-chinwag-signature"])
    assert not verify("another", stamp, body, headers["x-chinwag-signature"])
    late = int(stamp) + 301
    assert not verify(SECRET, stamp, body, headers["x-chinwag-signature"], now=late)
    sent = orjson.loads(body)
    assert sent["type"] == "handoff.waiting" and sent["delivery_id"] == row.id
    assert (sent["bot_id"], sent["session_id"], sent["requested_by"]) == (BOT, session, "button")
    assert sent["within_hours"] is True
    assert sent["console_path"] == f"/admin/inbox/{BOT}/{session}"

    # Asking in words is posted too; asking again while waiting is not (no change).
    again = await shop.client.post(f"/v1/bots/{BOT}/sessions/{session}/handoff", headers=shop.alice)
    assert again.status_code == 200
    words = await accept(shop.client, {"message": "can I talk to a human?"}, **shop.bob)
    await wait_finished(shop.client, words.json()["assistant_message_id"])
    rows = await _settled(shop, 2)
    assert len(receiver.seen) == 2 and orjson.loads(receiver.seen[1][2])["requested_by"] == "words"

    listed = await shop.client.get(f"/v1/bots/{BOT}/webhook-deliveries")
    assert listed.status_code == 200
    assert {d["status"] for d in listed.json()["deliveries"]} == {"delivered"}
    assert SECRET not in listed.text and {r.id for r in rows} == {
        d["id"] for d in listed.json()["deliveries"]
    }
    refused = await shop.client.get(f"/v1/bots/{BOT}/webhook-deliveries", headers=shop.alice)
    assert_problem(refused, 403, "forbidden")


async def test_a_failing_receiver_is_retried_with_backoff(shop: Shop, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    await _ask(shop)
    (row,) = await _settled(shop)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    times = [t for t, _, _ in receiver.seen]
    assert len(times) == 3 and len({h["x-chinwag-delivery"] for _, h, _ in receiver.seen}) == 1
    first, second = times[1] - times[0], times[2] - times[1]
    assert first >= 0.15 and second >= 0.35 and second > first  # 0.2 s, then 0.4 s


async def test_a_receiver_that_keeps_failing_is_given_up_on_and_recorded(
    shop: Shop, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 10
    await _ask(shop)
    (row,) = await _settled(shop)
    assert (row.status, row.attempts, row.last_error, row.last_http_status) == (
        "failed",
        6,
        "webhook_server_error",
        500,
    )
    assert len(receiver.seen) == 6


async def test_two_workers_send_a_delivery_once(shop: Shop, receiver: Receiver) -> None:
    """The server's own job and two more senders race for each due delivery: one sends it."""
    receiver.delay = 0.3
    for _ in range(3):
        await _ask(shop)
    senders = [WebhookSender(), WebhookSender()]
    await asyncio.gather(*(deliver_due(shop.server.db, s, retry_seconds=0.2) for s in senders))
    rows = await _settled(shop, 3)
    assert {r.status for r in rows} == {"delivered"} and {r.attempts for r in rows} == {1}
    assert sorted(h["x-chinwag-delivery"] for _, h, _ in receiver.seen) == sorted(
        r.id for r in rows
    )


# Each refusal, sent directly (no retries to wait for): what is raised, what reached the
# receiver, and that the secret shows nowhere.
async def _send(receiver: Receiver, bot: BotConfig, **sender: Any) -> WebhookError:
    hook = bot.handoff.webhook
    assert hook is not None
    env = sender.pop("env", {ENV: SECRET})
    with pytest.raises(WebhookError) as raised:
        await WebhookSender(env, **sender).send(bot, hook, delivery_id="d1", body=b"{}", now=1)
    assert SECRET not in raised.value.message
    return raised.value


async def test_each_refusal(receiver: Receiver) -> None:
    bot = hooked_bot(receiver.url)
    not_allowed = bot.model_copy(update={"allowed_hosts": ["hooks.shop.example"]})
    assert isinstance(await _send(receiver, not_allowed), WebhookHostNotAllowed)
    private = hooked_bot(receiver.url, allow_private=False)
    refused = await _send(receiver, private)
    assert isinstance(refused, WebhookAddressRefused) and "loopback" in refused.message
    assert isinstance(await _send(receiver, bot, env={}), WebhookSecretNotSet)
    assert receiver.seen == []  # none of these reached it

    receiver.statuses = [404, 302, 429]
    rejected = await _send(receiver, bot)
    assert isinstance(rejected, WebhookRejected) and not rejected.transient
    redirected = await _send(receiver, bot)
    assert isinstance(redirected, WebhookRedirectRefused) and not redirected.transient
    busy = await _send(receiver, bot)
    assert isinstance(busy, WebhookServerError) and busy.transient
    assert len(receiver.seen) == 3  # the redirect was not followed

    receiver.delay = 1.0
    slow = await _send(receiver, bot, timeout_seconds=0.3)
    assert isinstance(slow, WebhookTimeout) and slow.transient


async def test_a_large_answer_is_read_no_further_than_the_cap(receiver: Receiver) -> None:
    receiver.body_size = 1_000_000
    bot = hooked_bot(receiver.url)
    assert bot.handoff.webhook is not None
    sent = await WebhookSender({ENV: SECRET}).send(
        bot, bot.handoff.webhook, delivery_id="d1", body=b"{}", now=1
    )
    assert sent.http_status == 200 and sent.bytes_read == RESPONSE_CAP_BYTES


async def test_a_webhook_to_a_host_not_allowed_is_refused_when_saved(
    shop: Shop, receiver: Receiver
) -> None:
    bot = hooked_bot("https://hooks.elsewhere.example/x").model_dump(mode="json")
    saved = await shop.client.put(f"/v1/bots/{BOT}", json=bot)
    problem = assert_problem(saved, 422, "bot_config_invalid")
    assert [
        (p["path"], p["code"]) for p in problem["problems"] if p["path"] == "handoff.webhook.url"
    ] == [("handoff.webhook.url", "webhook_host_not_allowed")]
    assert HandoffWebhook.model_fields["secret_env"].description
