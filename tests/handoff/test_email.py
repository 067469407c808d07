"""Handoff emails: when a conversation starts waiting, each address of the bot's
`handoff.email` gets one email through the server's SMTP server (a real one, aiosmtpd), sent from
the outbox like the webhook; a server without SMTP, a refusing server and a wrong login are
recorded with their codes, and the login is never shown (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from sqlalchemy import select

from chinwag.conversations.models import WebhookDelivery
from chinwag.settings import Settings
from chinwag.testing.server import free_port
from tests.conftest import run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop
from tests.helpers import accept, wait_finished

TO = ["shop@vinhuset.example", "kari@vinhuset.example"]
PASSWORD = "smtp-pass-never-shown-7c1d"


class Mailbox:
    """An SMTP server's handler: keeps each email it takes; refuses all while `refuse` is set."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 mailbox busy, try later"
        content = envelope.original_content or b""
        self.received.append((list(envelope.rcpt_tos), email.message_from_bytes(content)))
        return "250 OK"


def _login(server: Any, session: Session, envelope: Envelope, mechanism: str, auth: Any) -> Any:
    ok = isinstance(auth, LoginPassword) and auth.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    smtp = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=_login,
        auth_require_tls=False,  # a test server on 127.0.0.1; production logins go over TLS
    )
    smtp.start()
    yield box, port
    smtp.stop()


async def _shop(settings: Settings) -> AsyncIterator[Shop]:
    settings = settings.model_copy(update={"webhook_retry_seconds": 0.2})
    async with run_server(settings, bot=handoff_bot(email=TO)) as server:
        yield await open_shop(server)


async def _ask(shop: Shop) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    asked = await shop.client.post(f"/v1/bots/{BOT}/sessions/{session}/handoff", headers=shop.alice)
    assert asked.status_code == 200, asked.text
    return session


async def _delivery(shop: Shop, done: Any) -> Any:
    for _ in range(200):
        async with shop.server.db.read() as conn:
            rows = (
                await conn.execute(
                    select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc())
                )
            ).all()
        if rows and done(rows[0]):
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"the delivery did not get there: {rows}")


async def test_each_address_is_told_once_by_email(
    make_settings: Settings, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    settings = make_settings.model_copy(
        update={
            "smtp_url": f"smtp://shop%40vinhuset.example:{PASSWORD}@127.0.0.1:{port}",
            "smtp_from": "chinwag@vinhuset.example",
        }
    )
    async for shop in _shop(settings):
        session = await _ask(shop)
        row = await _delivery(shop, lambda r: r.status != "pending")
        assert (row.status, row.attempts, row.url) == ("delivered", 1, "mailto:" + ",".join(TO))
        ((to, sent),) = box.received
        assert to == TO
        assert sent["Subject"] == "Vinhuset: a visitor is waiting for a person"
        assert sent["From"] == "chinwag@vinhuset.example" and sent["To"] == ", ".join(TO)
        text = sent.get_payload(decode=True).decode()
        assert f"/admin/inbox/{BOT}/{session}" in text and "the widget's button" in text

        listed = await shop.client.get(f"/v1/bots/{BOT}/webhook-deliveries")
        (shown,) = listed.json()["deliveries"]
        assert shown["url"] == "mailto:" + ",".join(TO) and shown["status"] == "delivered"
        assert PASSWORD not in listed.text


async def test_a_server_without_smtp_records_why_at_once(make_settings: Settings) -> None:
    async for shop in _shop(make_settings):
        await _ask(shop)
        row = await _delivery(shop, lambda r: r.status != "pending")
        assert (row.status, row.attempts, row.last_error) == ("failed", 1, "smtp_not_configured")


async def test_a_busy_server_is_retried_and_a_wrong_login_is_not_nor_shown(
    make_settings: Settings, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    box.refuse = True
    settings = make_settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{port}"})
    async for shop in _shop(settings):
        await _ask(shop)
        row = await _delivery(shop, lambda r: r.attempts >= 2)
        assert row.last_error == "email_failed" and "451" in (row.last_detail or "")
        box.refuse = False
        row = await _delivery(shop, lambda r: r.status == "delivered")
        assert len(box.received) == 1

    wrong = f"smtp://shop:not-{PASSWORD}@127.0.0.1:{port}"
    async for shop in _shop(make_settings.model_copy(update={"smtp_url": wrong})):
        await _ask(shop)
        row = await _delivery(shop, lambda r: r.status != "pending")
        assert (row.status, row.attempts, row.last_error) == ("failed", 1, "email_refused")
        assert "535" in (row.last_detail or "")
        assert PASSWORD not in (row.last_detail or "")
