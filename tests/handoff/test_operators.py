"""Operators: created on the command line, signed in to the console by email and password
(the key sign-in's cookie and CSRF rules), answering only the bots they are assigned."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from sqlalchemy import select

from chinwag.auth.models import Operator, OperatorBot
from chinwag.bots.service import put_bot
from chinwag.conversations.models import Handoff, MessageAuthor
from tests.conftest import plain_demo_bot
from tests.handoff.conftest import BOT, Shop
from tests.helpers import ROOT, accept, assert_problem, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"
PASSWORD = "correct horse battery"


async def operators_add(database_url: str, *args: str, password: str = PASSWORD) -> tuple[int, str]:
    """`chinwag operators add … --password-stdin`, as an admin runs it: (exit code, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env["CHINWAG_DATABASE_URL"] = database_url
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chinwag",
        "operators",
        "add",
        *args,
        "--password-stdin",
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate(f"{password}\n".encode())
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def _waiting(shop: Shop) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    return session


async def test_an_operator_signs_in_and_answers_their_bot(shop: Shop) -> None:
    server = shop.server
    async with server.db.write() as conn:
        await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
    url = server.settings.database_url
    code, out = await operators_add(
        url, "--email", "Kari@Shop.example", "--name", "Kari", "--bot", BOT
    )
    assert code == 0, out
    assert "operator 'Kari' <kari@shop.example>" in out and f"answers for {BOT}" in out
    again, out = await operators_add(
        url, "--email", "kari@shop.example", "--name", "K", "--bot", BOT
    )
    assert again != 0 and "an operator with email 'kari@shop.example' exists" in out
    short, out = await operators_add(
        url, "--email", "ola@shop.example", "--name", "Ola", "--bot", BOT, password="short"
    )
    assert short != 0 and "shorter than 10 characters" in out
    async with server.db.read() as conn:
        (stored,) = (await conn.execute(select(Operator.email, Operator.password_hash))).all()
        assigned = (await conn.execute(select(OperatorBot.bot_id))).scalars().all()
    assert stored.email == "kari@shop.example" and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash and assigned == [BOT]

    session = await _waiting(shop)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as browser:
        wrong = await browser.post(
            "/admin/operator-session", json={"email": "kari@shop.example", "password": "nope"}
        )
        nobody = await browser.post(
            "/admin/operator-session", json={"email": "who@shop.example", "password": PASSWORD}
        )
        for refused in (wrong, nobody):
            problem = assert_problem(refused, 401, "unauthenticated")
            assert problem["detail"] == "the email or password is not right"
        assert "chinwag_console" not in browser.cookies

        signed_in = await browser.post(
            "/admin/operator-session", json={"email": "KARI@shop.example", "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        me = signed_in.json()
        assert (me["kind"], me["key_name"], me["bots"]) == ("operator", "Kari", [BOT])
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        csrf = {"x-csrf-token": me["csrf_token"]}
        assert (await browser.get("/admin/session")).json()["kind"] == "operator"

        # Only the bots they answer for; nothing of the admin's.
        assert (await browser.get(f"/v1/bots/{BOT}/handoffs")).status_code == 200
        assert_problem(await browser.get("/v1/bots/other/handoffs"), 404, "not_found")
        assert_problem(await browser.get("/v1/keys"), 403, "forbidden")
        # Changes need the session's CSRF token.
        claim = f"{SESSION}/{session}/handoff/claim"
        assert_problem(await browser.post(claim), 403, "csrf_token_invalid")
        claimed = await browser.post(claim, headers=csrf)
        assert claimed.status_code == 200 and claimed.json()["operator"] == "Kari"
        wrote = await browser.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "Hei!"}, headers=csrf
        )
        assert wrote.status_code == 201, wrote.text
        typing = await browser.post(f"{SESSION}/{session}/handoff/typing", headers=csrf)
        assert (typing.status_code, typing.json()) == (202, {"signalled": True})
        # The bot's curated answers, to insert into a reply: read, never written.
        made = await shop.client.post(
            f"/v1/bots/{BOT}/answers", json={"question": "Sundays?", "answer": "Closed."}
        )
        assert made.status_code == 201
        answers = await browser.get(f"/v1/bots/{BOT}/answers", params={"q": "sun"})
        assert [a["answer"] for a in answers.json()["items"]] == ["Closed."]
        assert_problem(
            await browser.post(
                f"/v1/bots/{BOT}/answers", json={"question": "q", "answer": "a"}, headers=csrf
            ),
            403,
            "forbidden",
        )
        assert_problem(await browser.get("/v1/bots/other/answers"), 404, "not_found")
        # A key's operator cannot write in Kari's conversation.
        intruder = await shop.client.post(
            f"{SESSION}/{session}/handoff/messages", json={"message": "x"}, headers=shop.operator
        )
        assert_problem(intruder, 409, "handoff_claimed_by_another")

        history = await shop.client.get(f"{SESSION}/{session}/messages", headers=shop.alice)
        assert history.json()["messages"][-1]["author"] == {"kind": "operator", "name": "Kari"}
        async with server.db.read() as conn:
            claimer = (await conn.execute(select(Handoff.claimed_by_operator))).scalar_one()
            author = (
                await conn.execute(select(MessageAuthor.key_id, MessageAuthor.operator_id))
            ).one()
            kari = (await conn.execute(select(Operator.id))).scalar_one()
        assert claimer == kari and tuple(author) == (None, kari)

        released = await browser.post(f"{SESSION}/{session}/handoff/release", headers=csrf)
        assert released.status_code == 200
        value = browser.cookies["chinwag_console"]
        signed_out = await browser.delete("/admin/session", headers=csrf)
        assert signed_out.status_code == 204
    # The cookie stops working at once, everywhere.
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"chinwag_console": value}
    ) as stolen:
        ended = await stolen.get(f"/v1/bots/{BOT}/handoffs")
    assert_problem(ended, 401, "unauthenticated")


async def test_password_guessing_is_locked_out_and_logged(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    code, out = await operators_add(
        shop.server.settings.database_url,
        "--email",
        "ola@shop.example",
        "--name",
        "Ola",
        "--bot",
        BOT,
    )
    assert code == 0, out
    async with httpx.AsyncClient(base_url=shop.server.base_url, timeout=30) as guesser:
        statuses = []
        # 10 a minute: 21 guesses fill a minute's window whichever minute boundary they cross.
        for attempt in range(21):
            wrong = await guesser.post(
                "/admin/operator-session",
                json={"email": "ola@shop.example", "password": f"guess-{attempt}"},
            )
            statuses.append(wrong.status_code)
            if wrong.status_code == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}, statuses
        assert len(statuses) >= 11
        # The right password too, once locked out: the lockout does not tell which was right.
        locked = await guesser.post(
            "/admin/operator-session", json={"email": "OLA@shop.example", "password": PASSWORD}
        )
    problem = assert_problem(locked, 429, "rate_limited")
    assert int(locked.headers["retry-after"]) > 0 and problem["scope"] == "operator email"
    assert "operator sign-in locked out: email 'OLA@shop.example'" in caplog.text


def test_an_unknown_emails_sign_in_verifies_a_hash_as_costly_as_an_operators() -> None:
    """The sign-in of an unknown email takes as long as a wrong password: the constant hash it
    verifies has the parameters new operators' passwords are hashed with."""
    from argon2 import PasswordHasher, extract_parameters

    from chinwag.auth.operators import DUMMY_HASH

    real = PasswordHasher().hash("an operator's password")
    assert extract_parameters(DUMMY_HASH) == extract_parameters(real)
