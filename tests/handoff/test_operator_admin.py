"""Managing operators over HTTP: list, create, remove (their sessions end at once, their
conversations go back to the queue), and the lockouts kept in the database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import func, select

from chinwag.auth.models import ConsoleSession, Operator, SignInLockout
from tests.handoff.conftest import BOT, Shop, session_events
from tests.helpers import ROOT, accept, assert_problem, wait_finished
from tests.sse_client import iter_events

SESSION = f"/v1/bots/{BOT}/sessions"
PASSWORD = "correct horse battery"


def kari(**more: object) -> dict[str, object]:
    return {
        "name": "Kari",
        "email": "kari@shop.example",
        "password": PASSWORD,
        "bots": [BOT],
        **more,
    }


@asynccontextmanager
async def browser(shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shop.server.base_url, timeout=30) as client:
        yield client


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    me = await client.post("/admin/operator-session", json={"email": email, "password": password})
    assert me.status_code == 200, me.text
    return {"x-csrf-token": me.json()["csrf_token"]}


async def test_an_admin_creates_and_lists_operators(shop: Shop) -> None:
    client = shop.client  # the admin key
    made = await client.post("/v1/operators", json=kari())
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["name"], body["email"], body["role"], body["bots"]) == (
        "Kari",
        "kari@shop.example",
        "operator",
        [BOT],
    )
    assert PASSWORD not in made.text and "password" not in body
    boss = await client.post(
        "/v1/operators",
        json={"name": "Siri", "email": "Siri@Shop.example", "password": PASSWORD, "role": "admin"},
    )
    assert boss.status_code == 201 and boss.json()["bots"] is None
    listed = (await client.get("/v1/operators")).json()["operators"]
    assert [(o["name"], o["email"]) for o in listed] == [
        ("Kari", "kari@shop.example"),
        ("Siri", "siri@shop.example"),
    ]

    assert_problem(await client.post("/v1/operators", json=kari()), 409, "operator_exists")
    unknown = await client.post("/v1/operators", json=kari(email="ola@shop.example", bots=["nope"]))
    assert_problem(unknown, 404, "bot_not_found")
    short = await client.post(
        "/v1/operators", json=kari(email="ola@shop.example", password="short")
    )
    assert_problem(short, 422, "invalid_request")
    not_email = await client.post("/v1/operators", json=kari(email="ola"))
    assert_problem(not_email, 422, "invalid_request")

    # A bot secret key, or an operator without the admin role, may not; the admin role may.
    for refused in (
        await client.get("/v1/operators", headers=shop.operator),
        await client.post(
            "/v1/operators", json=kari(email="x@shop.example"), headers=shop.operator
        ),
        await client.get("/v1/operators", headers=shop.alice),
    ):
        assert_problem(refused, 403, "forbidden")
    async with browser(shop) as as_kari, browser(shop) as as_siri:
        await sign_in(as_kari, "kari@shop.example")
        assert_problem(await as_kari.get("/v1/operators"), 403, "forbidden")
        csrf = await sign_in(as_siri, "siri@shop.example")
        assert (await as_siri.get("/v1/operators")).status_code == 200
        ola = await as_siri.post(
            "/v1/operators", json=kari(name="Ola", email="ola@shop.example"), headers=csrf
        )
        assert ola.status_code == 201, ola.text


async def _waiting(shop: Shop) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    return session


async def test_a_removed_operators_sessions_end_at_once(shop: Shop) -> None:
    operator_id = (await shop.client.post("/v1/operators", json=kari())).json()["id"]
    session = await _waiting(shop)
    async with browser(shop) as as_kari, browser(shop) as second_tab:
        csrf = await sign_in(as_kari, "kari@shop.example")
        await sign_in(second_tab, "kari@shop.example")
        claimed = await as_kari.post(f"{SESSION}/{session}/handoff/claim", headers=csrf)
        assert claimed.status_code == 200
        wrote = await as_kari.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Hei!"}, headers=csrf
        )
        assert wrote.status_code == 201

        async with second_tab.stream("GET", "/v1/handoffs/events") as feed:
            inbox = iter_events(feed)
            assert (await anext(inbox)).data["mine_count"] == 1
            removed = await shop.client.delete(f"/v1/operators/{operator_id}")
            assert removed.status_code == 204, removed.text
            # The open inbox ends too (within a look of the database), after nothing more.
            rest = [e async for e in inbox]
            assert rest == []
        # Their next request, in every browser they signed in with, is 401.
        for client in (as_kari, second_tab):
            assert_problem(await client.get("/v1/handoffs"), 401, "unauthenticated")
            assert_problem(await client.get("/admin/session"), 401, "unauthenticated")
        ended = await as_kari.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "x"}, headers=csrf
        )
        assert_problem(ended, 401, "unauthenticated")
        refused = await as_kari.post(
            "/admin/operator-session", json={"email": "kari@shop.example", "password": PASSWORD}
        )
        assert_problem(refused, 401, "unauthenticated")
    async with shop.server.db.read() as conn:
        sessions = await conn.execute(select(func.count()).select_from(ConsoleSession))
        assert sessions.scalar_one() == 0
        assert (await conn.execute(select(Operator.removed_at))).scalar_one() is not None

    # Her conversation is back in the queue (the visitor sees it waiting), her message still
    # hers; she is not listed; removing her again is 404.
    queue = (await shop.client.get(f"/v1/bots/{BOT}/handoffs")).json()["handoffs"]
    assert [h["session_id"] for h in queue] == [session]
    events = await session_events(shop.client, f"{SESSION}/{session}/events", 4, shop.alice)
    assert [e.type for e in events] == [
        "handoff.waiting",
        "handoff.claimed",
        "message.created",
        "handoff.waiting",
    ]
    history = (await shop.client.get(f"{SESSION}/{session}/messages")).json()["messages"]
    assert history[-1]["author"] == {"kind": "operator", "name": "Kari"}
    assert (await shop.client.get("/v1/operators")).json()["operators"] == []
    again = await shop.client.delete(f"/v1/operators/{operator_id}")
    assert_problem(again, 404, "operator_not_found")

    # Added again with the same email: the same person (id), a new password.
    back = await shop.client.post("/v1/operators", json=kari(password="a new long password"))
    assert back.status_code == 201 and back.json()["id"] == operator_id
    async with browser(shop) as as_kari:
        await sign_in(as_kari, "kari@shop.example", "a new long password")


async def test_lockouts_are_kept_in_the_database(shop: Shop) -> None:
    await shop.client.post("/v1/operators", json=kari())
    async with browser(shop) as guesser:
        statuses = []
        for attempt in range(24):  # 10 a minute: past the limit whichever minute they cross
            wrong = await guesser.post(
                "/admin/operator-session",
                json={"email": "kari@shop.example", "password": f"guess-{attempt}"},
            )
            statuses.append(wrong.status_code)
        assert 401 in statuses and statuses[-1] == 429
    async with shop.server.db.read() as conn:
        rows = (await conn.execute(select(SignInLockout))).all()
    # One lockout, however many attempts it refused (they all came within its minute).
    assert [(r.email, r.client_ip, r.scope) for r in rows] == [
        ("kari@shop.example", "127.0.0.1", "operator email")
    ]
    listed = (await shop.client.get("/v1/operators/lockouts")).json()["lockouts"]
    assert [(entry["email"], entry["scope"]) for entry in listed] == [
        ("kari@shop.example", "operator email")
    ]
    assert_problem(
        await shop.client.get("/v1/operators/lockouts", headers=shop.operator), 403, "forbidden"
    )


async def chinwag_operators(database_url: str, *args: str) -> tuple[int, str]:
    """`chinwag operators …` as an admin runs it: (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env["CHINWAG_DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chinwag",
        "operators",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_the_cli_lists_and_removes_operators(shop: Shop) -> None:
    url = shop.server.settings.database_url
    await shop.client.post("/v1/operators", json=kari())
    session = await _waiting(shop)
    async with browser(shop) as as_kari:
        csrf = await sign_in(as_kari, "kari@shop.example")
        await as_kari.post(f"{SESSION}/{session}/handoff/claim", headers=csrf)
        code, out = await chinwag_operators(url, "list")
        assert code == 0 and f"Kari <kari@shop.example> operator: {BOT}" in out
        code, out = await chinwag_operators(url, "remove", "Kari@shop.example")
        assert code == 0, out
        assert "Removed 'Kari' <kari@shop.example>: signed out everywhere." in out
        assert "1 conversation(s) they had went back to waiting." in out
        assert_problem(await as_kari.get("/v1/handoffs"), 401, "unauthenticated")
    code, out = await chinwag_operators(url, "remove", "kari@shop.example")
    assert code != 0 and "no operator has the email 'kari@shop.example'" in out
    code, out = await chinwag_operators(url, "list")
    assert code == 0 and "No operators yet" in out
