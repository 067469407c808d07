"""Tickets: outside the opening hours, or when nobody claims a waiting conversation in time,
the visitor is offered a form to leave an email (with consent); never silently dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from chinwag.conversations.models import Ticket
from chinwag.db.base import utcnow
from chinwag.handoff.tickets import offer_unclaimed
from chinwag.settings import Settings
from tests.conftest import run_server
from tests.handoff.conftest import BOT, Shop, handoff_bot, open_shop, session_events
from tests.helpers import accept, assert_problem, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"
CLOSED = {"timezone": "Europe/Oslo"}  # no day has opening hours: always closed


@pytest.fixture
async def closed_shop(make_settings: Settings) -> AsyncIterator[Shop]:
    async with run_server(make_settings, bot=handoff_bot(hours=CLOSED)) as server:
        yield await open_shop(server)


@pytest.fixture
async def quick_shop(make_settings: Settings) -> AsyncIterator[Shop]:
    """Open always; a waiting conversation nobody claims in 3 s is offered the form."""
    async with run_server(make_settings, bot=handoff_bot(claim_timeout_minutes=0.05)) as server:
        yield await open_shop(server)


async def _session(shop: Shop, text: str = "Hei") -> str:
    sent = await accept(shop.client, {"message": text}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    return str(sent.json()["session_id"])


async def test_after_hours_the_visitor_leaves_an_email(closed_shop: Shop) -> None:
    shop = closed_shop
    session = await _session(shop)
    asked = await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert asked.status_code == 200 and asked.json()["within_hours"] is False
    url = f"{SESSION}/{session}/events"
    waiting, offered = await session_events(shop.client, url, 2, shop.alice)
    assert (waiting.type, offered.type) == ("handoff.waiting", "handoff.ticket_offered")
    assert offered.data["reason"] == "after_hours"
    assert offered.data["consent"]["en"] == (
        "I agree that Vinhuset keeps my email address and this conversation to answer me."
    )
    assert "Vinhuset" in offered.data["consent"]["nb"]
    # The history carries the offer while it stands (the widget shows the form after a reload).
    history = f"{SESSION}/{session}/messages"
    page = (await shop.client.get(history, headers=shop.alice)).json()
    assert page["ticket_offer"] == {k: offered.data[k] for k in ("reason", "text", "consent")}

    ticket = f"{SESSION}/{session}/ticket"
    no_consent = {"email": "kari@example.com", "consent": False}
    refused = await shop.client.post(ticket, json=no_consent, headers=shop.alice)
    assert_problem(refused, 422, "ticket_consent_required")
    bad = await shop.client.post(
        ticket, json={"email": "kari", "consent": True}, headers=shop.alice
    )
    assert_problem(bad, 422, "invalid_request")
    others = await shop.client.post(
        ticket, json={"email": "bob@example.com", "consent": True}, headers=shop.bob
    )
    assert others.status_code == 404  # bob cannot leave a ticket in alice's conversation
    made = await shop.client.post(
        ticket,
        json={"email": "kari@example.com", "consent": True, "language": "nb"},
        headers=shop.alice,
    )
    assert made.status_code == 201, made.text
    assert made.json()["text"] == "Takk! Vinhuset skriver til kari@example.com."
    (created,) = await session_events(shop.client, url, 1, shop.alice, after=2)
    assert (created.type, created.data["state"]) == ("ticket.created", "closed")
    assert (await shop.client.get(history, headers=shop.alice)).json()["ticket_offer"] is None

    async with shop.server.db.read() as conn:
        row = (await conn.execute(select(Ticket))).one()
    assert (row.email, row.reason) == ("kari@example.com", "after_hours")
    assert row.consent_text.startswith("Jeg godtar at Vinhuset lagrer")
    listed = await shop.client.get(f"/v1/bots/{BOT}/tickets", headers=shop.operator)
    assert [(t["email"], t["session_id"]) for t in listed.json()["tickets"]] == [
        ("kari@example.com", session)
    ]
    assert_problem(
        await shop.client.get(f"/v1/bots/{BOT}/tickets", headers=shop.alice), 403, "forbidden"
    )
    again = await shop.client.post(ticket, json=no_consent | {"consent": True}, headers=shop.alice)
    assert_problem(again, 409, "handoff_not_waiting")

    # Erasing the conversation erases the ticket (the visitor's email) with it.
    erased = await shop.client.delete(f"{SESSION}/{session}", headers=shop.alice)
    assert erased.status_code == 200 and erased.json()["deleted"]["tickets"] == 1
    async with shop.server.db.read() as conn:
        assert (await conn.execute(select(Ticket))).first() is None


async def test_asking_in_words_after_hours_offers_the_form_too(closed_shop: Shop) -> None:
    shop = closed_shop
    session = await _session(shop, "can I talk to a human?")
    events = await session_events(shop.client, f"{SESSION}/{session}/events", 2, shop.alice)
    assert [e.type for e in events] == ["handoff.waiting", "handoff.ticket_offered"]


async def test_nobody_claims_in_time_and_the_form_is_offered(quick_shop: Shop) -> None:
    """The server's own background job (any worker's) makes the offer; the conversation stays
    in the queue and can still be claimed."""
    shop = quick_shop
    session = await _session(shop)
    await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    url = f"{SESSION}/{session}/events"
    _, offered = await asyncio.wait_for(session_events(shop.client, url, 2, shop.alice), timeout=15)
    assert offered.type == "handoff.ticket_offered"
    assert offered.data["reason"] == "no_one_claimed"
    assert offered.data["text"]["en"].startswith("Sorry, nobody from Vinhuset could join yet.")
    queue = (await shop.client.get(f"/v1/bots/{BOT}/handoffs", headers=shop.operator)).json()
    assert [h["session_id"] for h in queue["handoffs"]] == [session]  # not dropped
    claimed = await shop.client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.operator)
    assert claimed.status_code == 200
    # Offered once only, whatever time passes.
    assert (await offer_unclaimed(shop.server.db, utcnow() + timedelta(hours=1))).offered == []


async def test_workers_racing_offer_once(shop: Shop) -> None:
    """Three workers' sweeps at the same moment, 20 minutes on (the default timeout is 15):
    each of three waiting conversations gets exactly one offer."""
    sessions = []
    for _ in range(3):
        session = await _session(shop)
        await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
        sessions.append(session)
    later = utcnow() + timedelta(minutes=20)
    results = await asyncio.gather(*(offer_unclaimed(shop.server.db, later) for _ in range(3)))
    assert sum(len(r.offered) for r in results) == 3
    for session in sessions:
        events = await session_events(shop.client, f"{SESSION}/{session}/events", 2, shop.alice)
        assert [e.type for e in events] == ["handoff.waiting", "handoff.ticket_offered"]
    assert (await offer_unclaimed(shop.server.db, later)).offered == []
