"""The console's inbox over HTTP: who sees which conversations, `mine`, the live feed, and the
transcript an operator reads (authors, handoff state)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from chinwag.auth.operators import add_operator
from chinwag.bots.service import put_bot
from tests.conftest import plain_demo_bot
from tests.handoff.conftest import BOT, Shop
from tests.helpers import accept, assert_problem, wait_finished
from tests.sse_client import iter_events

SESSION = f"/v1/bots/{BOT}/sessions"
PASSWORD = "correct horse battery"


@asynccontextmanager
async def signed_in(
    shop: Shop, email: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A browser signed in to the console as the operator: (client, CSRF header)."""
    async with httpx.AsyncClient(base_url=shop.server.base_url, timeout=30) as browser:
        me = await browser.post(
            "/admin/operator-session", json={"email": email, "password": PASSWORD}
        )
        assert me.status_code == 200, me.text
        yield browser, {"x-csrf-token": me.json()["csrf_token"]}


async def _operators(shop: Shop) -> None:
    async with shop.server.db.write() as conn:
        await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
        for name, bot in (("kari", BOT), ("per", "other")):
            await add_operator(
                conn,
                name=name.title(),
                email=f"{name}@shop.example",
                password=PASSWORD,
                role="operator",
                bots=[bot],
            )


async def _waiting(shop: Shop, text: str = "Hei") -> str:
    sent = await accept(shop.client, {"message": text}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    asked = await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    assert asked.status_code == 200, asked.text
    return session


async def test_the_inbox_lists_the_callers_conversations(shop: Shop) -> None:
    await _operators(shop)
    session = await _waiting(shop, "Har dere Barolo?")
    async with (
        signed_in(shop, "kari@shop.example") as (kari, csrf),
        signed_in(shop, "per@shop.example") as (per, _),
    ):
        listed = (await kari.get("/v1/handoffs")).json()
        assert (listed["waiting_count"], listed["mine_count"]) == (1, 0)
        (item,) = listed["waiting"]
        assert (item["bot_id"], item["session_id"], item["state"]) == (BOT, session, "waiting")
        assert item["last_message"] == "Har dere Barolo?" and item["requested_by"] == "button"
        assert item["user_name"] is None and not item["mine"]
        # Per answers another bot: nothing of vinhuset's; the bot's secret key sees it.
        assert (await per.get("/v1/handoffs")).json()["waiting"] == []
        assert (await shop.client.get("/v1/handoffs", headers=shop.operator)).json()[
            "waiting_count"
        ] == 1
        assert_problem(await shop.client.get("/v1/handoffs", headers=shop.alice), 403, "forbidden")
        assert_problem(
            await shop.client.get("/v1/handoffs", headers=shop.publishable), 403, "forbidden"
        )

        claimed = await kari.post(f"{SESSION}/{session}/handoff/claim", headers=csrf)
        assert claimed.status_code == 200, claimed.text
        mine = (await kari.get("/v1/handoffs")).json()
        assert (mine["waiting_count"], mine["mine_count"]) == (0, 1)
        assert [(i["session_id"], i["operator"], i["mine"]) for i in mine["claimed"]] == [
            (session, "Kari", True)
        ]
        key = (await shop.client.get("/v1/handoffs", headers=shop.operator)).json()
        assert [i["mine"] for i in key["claimed"]] == [False] and key["mine_count"] == 0

        closed = await kari.post(f"{SESSION}/{session}/handoff/close", headers=csrf)
        assert closed.status_code == 200
        after = (await kari.get("/v1/handoffs")).json()
        assert after["claimed"] == [] and [i["state"] for i in after["closed"]] == ["closed"]


async def test_the_inbox_feed_sends_each_change(shop: Shop) -> None:
    await _operators(shop)
    async with (
        signed_in(shop, "kari@shop.example") as (kari, csrf),
        kari.stream("GET", "/v1/handoffs/events") as feed,
    ):
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/event-stream")
        events = iter_events(feed)
        first = await anext(events)
        assert (first.type, first.data["waiting_count"], first.id) == ("inbox", 0, 1)
        session = await _waiting(shop)
        second = await anext(events)
        assert second.data["waiting_count"] == 1 and second.id == 2
        assert second.data["waiting"][0]["session_id"] == session
        await kari.post(f"{SESSION}/{session}/handoff/claim", headers=csrf)
        third = await anext(events)
        assert (third.data["waiting_count"], third.data["mine_count"]) == (0, 1)
        await kari.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Hei!"}, headers=csrf
        )
        await accept(shop.client, {"message": "Takk", "session_id": session}, **shop.alice)
        # The operator's message moves the conversation's last_message_at, the visitor's its
        # last message: one event each, or one for both if they came within one look.
        latest = [await anext(events)]
        if latest[-1].data["claimed"][0]["last_message"] != "Takk":
            latest.append(await anext(events))
        assert latest[-1].data["claimed"][0]["last_message"] == "Takk"


async def test_an_operator_reads_the_transcript_of_their_bots(shop: Shop) -> None:
    await _operators(shop)
    session = await _waiting(shop)
    async with (
        signed_in(shop, "kari@shop.example") as (kari, csrf),
        signed_in(shop, "per@shop.example") as (per, _),
    ):
        await kari.post(f"{SESSION}/{session}/handoff/claim", headers=csrf)
        await kari.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Kari her"}, headers=csrf
        )
        read = await kari.get(f"{SESSION}/{session}/transcript")
        assert read.status_code == 200, read.text
        body = read.json()
        assert body["handoff"] == {"state": "claimed", "operator": "Kari"}
        authors = [(m["role"], m["author"]) for m in body["messages"]]
        assert authors == [
            ("user", {"kind": "visitor", "name": None}),
            ("assistant", {"kind": "bot", "name": None}),
            ("assistant", {"kind": "operator", "name": "Kari"}),
        ]
        assert all("tool" in r for m in body["messages"] for r in m["flow_runs"])
        assert_problem(await per.get(f"{SESSION}/{session}/transcript"), 404, "not_found")
