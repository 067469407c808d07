"""Declined answers as an owner meets them: the events a visitor's browser gets, the row, the
API field, the console's filter, and "Not a decline: this is our business", which puts the
message in scope in a new bot version that the very next message uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, insert, select, update

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import Message
from chinwag.db.base import utcnow
from chinwag.generations.workers import recover_orphans, this_host
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent, Stream, Worker
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.helpers import ask, assert_problem

BOT = "vinhuset"
POEM = "Write me a poem about the sea"
# The bot's material answers this (its system prompt), once it is in scope: the scope
# classifier never sees the system prompt, so at first it declines it like any poem request.
SYSTEM = (
    "You help the customers of Vinhuset, a wine shop in Bergen. "
    "We are open Monday to Saturday from 10 to 18. "
    "Every gift box comes with a short poem about the sea, written for the customer."
)
UNANSWERABLE = "Can I pay with Klarna instalments at checkout?"  # its business; nothing says
ANSWERED = "When are you open on Saturday?"


def grounded_bot() -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": BOT,
            "name": "Vinhuset",
            "policy": "grounded",
            "flows": {
                "main": {
                    "system": SYSTEM,
                    "template": "{{ message }}",
                    "examples": [
                        "What wine goes with fish?",
                        "Do you have Riesling?",
                        "Can you recommend a red wine for lamb?",
                        "Do you sell gift boxes?",
                    ],
                }
            },
        }
    )


THRESHOLD = grounded_bot().answer_policy.declines_at_once_from  # declined at once from here


@pytest.fixture
async def shop(make_settings: Settings) -> AsyncIterator[RunningServer]:
    async with run_server(make_settings, bot=grounded_bot()) as server:
        yield server


def completed(events: list[Any]) -> dict[str, Any]:
    data: dict[str, Any] = next(e.data for e in events if e.type == "message.completed")
    return data


async def stored(server: RunningServer, message_id: str) -> Any:
    async with server.db.read() as conn:
        return (
            await conn.execute(
                select(Message.status, Message.declined, Message.content, Message.route).where(
                    Message.id == message_id
                )
            )
        ).one()


async def test_an_off_topic_message_ends_declined_in_the_stream_the_row_and_the_api(
    shop: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(shop.client, POEM, user_id="ann", session_id="ann-1")

    types = [e.type for e in events]
    assert types[0] == "stream.started" and types[1] == "message.declined"
    assert set(types[2:-2]) == {"message.delta"} and len(types) > 4
    assert types[-2:] == ["message.completed", "stream.completed"]
    declined = events[1].data
    assert declined["reason"] == "out_of_scope"
    assert declined["scores"]["out_of_scope"] >= THRESHOLD
    answer = completed(events)
    text = "".join(e.data["text"] for e in events if e.type == "message.delta")
    assert answer["declined"] == "out_of_scope" and answer["text"] == text
    assert "Vinhuset" in text  # the built-in decline names the bot
    assert events[-1].data["status"] == "completed"
    assert fake_llm.requests == []  # no LLM was asked

    row = await stored(shop, answer["message_id"])
    assert (row.status, row.declined, row.content) == ("complete", "out_of_scope", text)
    assert row.route["declined"] == {"reason": "out_of_scope", "scores": declined["scores"]}

    one = (await shop.client.get(f"/v1/messages/{answer['message_id']}")).json()
    assert (one["status"], one["declined"]) == ("complete", "out_of_scope")
    history = (await shop.client.get(f"/v1/bots/{BOT}/sessions/ann-1/messages")).json()
    assert [(m["role"], m["declined"]) for m in history["messages"]] == [
        ("user", None),
        ("assistant", "out_of_scope"),
    ]
    transcript = (await shop.client.get(f"/v1/bots/{BOT}/sessions/ann-1/transcript")).json()
    assert transcript["messages"][1]["declined"] == "out_of_scope"
    assert transcript["messages"][1]["route"]["declined"]["scores"] == declined["scores"]


async def test_an_unanswerable_message_is_declined_as_such_and_an_answer_is_not(
    shop: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(shop.client, UNANSWERABLE, user_id="bo")
    declined = next(e for e in events if e.type == "message.declined")
    assert declined.data["reason"] == "unanswerable" and "support" in declined.data["scores"]
    assert completed(events)["declined"] == "unanswerable"
    assert (await stored(shop, completed(events)["message_id"])).declined == "unanswerable"

    events = await ask(shop.client, ANSWERED, user_id="bo")
    assert "message.declined" not in [e.type for e in events]
    answer = completed(events)
    assert answer["declined"] is None and len(fake_llm.requests) == 1
    row = await stored(shop, answer["message_id"])
    assert row.declined is None and row.route["policy"]["out_of_scope"] < THRESHOLD
    one = (await shop.client.get(f"/v1/messages/{answer['message_id']}")).json()
    assert one["declined"] is None


async def conversations(client: httpx.AsyncClient, **params: str) -> dict[str, dict[str, int]]:
    response = await client.get("/v1/conversations", params=params)
    assert response.status_code == 200, response.text
    return {item["session_id"]: item["declined"] for item in response.json()["items"]}


async def test_the_conversation_list_filters_declines_and_analytics_count_them(
    shop: RunningServer,
) -> None:
    await ask(shop.client, POEM, user_id="ann", session_id="off-topic")
    await ask(shop.client, "Write a haiku about coffee", user_id="ann", session_id="off-topic")
    await ask(shop.client, UNANSWERABLE, user_id="bo", session_id="unanswerable")
    await ask(shop.client, ANSWERED, user_id="cy", session_id="answered")
    none = {"out_of_scope": 0, "unanswerable": 0}

    assert await conversations(shop.client) == {
        "off-topic": {"out_of_scope": 2, "unanswerable": 0},
        "unanswerable": {"out_of_scope": 0, "unanswerable": 1},
        "answered": none,
    }
    assert set(await conversations(shop.client, declined="any")) == {"off-topic", "unanswerable"}
    assert set(await conversations(shop.client, declined="out_of_scope")) == {"off-topic"}
    assert set(await conversations(shop.client, declined="unanswerable")) == {"unanswerable"}
    both = await conversations(shop.client, declined="any", user_id="bo", bot_id=BOT)
    assert set(both) == {"unanswerable"}
    wrong = await shop.client.get("/v1/conversations", params={"declined": "yes"})
    assert_problem(wrong, 422, "invalid_request")

    charts = (await shop.client.get("/v1/analytics", params={"bot_id": BOT})).json()["charts"]
    (today,) = charts["declines"]
    assert {k: v for k, v in today.items() if k != "day"} == {
        "answers": 4,
        "out_of_scope": 2,
        "unanswerable": 1,
        "declined_share": 0.75,
        "out_of_scope_share": 0.5,
        "unanswerable_share": 0.25,
    }

    export = await shop.client.get(
        "/v1/conversations/export", params={"declined": "unanswerable", "format": "jsonl"}
    )
    rows = [httpx.Response(200, content=line).json() for line in export.text.splitlines()]
    assert [(r["role"], r["declined"]) for r in rows] == [
        ("user", None),
        ("assistant", "unanswerable"),
    ]


async def test_not_a_decline_makes_a_version_that_answers_the_same_message(
    shop: RunningServer, fake_llm: FakeLLM
) -> None:
    """Through a console session (cookie and CSRF token), as the console's button does."""
    events = await ask(shop.client, POEM, user_id="ann")
    declined = completed(events)["message_id"]
    before = events[1].data["scores"]["out_of_scope"]

    async with httpx.AsyncClient(base_url=shop.base_url, timeout=30) as console:
        session = (await console.post("/admin/session", json={"key": shop.admin_key})).json()
        url = f"/v1/bots/{BOT}/messages/{declined}/in-scope"
        assert_problem(await console.post(url), 403, "csrf_token_invalid")
        response = await console.post(url, headers={"x-csrf-token": session["csrf_token"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "bot_id": BOT,
        "version": 2,
        "previous_version": 1,
        "message": POEM,
    }

    active = (await shop.client.get(f"/v1/bots/{BOT}")).json()
    assert active["version"] == 2
    assert active["config"]["policy"]["in_scope"] == [POEM]
    assert active["config"]["policy"]["mode"] == "grounded"
    versions = (await shop.client.get(f"/v1/bots/{BOT}/versions")).json()
    assert versions[-1]["note"] == f"in scope: {POEM}" and versions[-1]["active"]
    diff = (await shop.client.get(f"/v1/bots/{BOT}/diff", params={"old": 1})).json()["diff"]
    assert f"+  - {POEM}" in diff

    # The very next message uses version 2: the same words are answered, by the LLM. The
    # scope is learnt from examples, so what must hold is that this message is no longer
    # judged out of scope (its probability fell below the bot's threshold), not a score.
    events = await ask(shop.client, POEM, user_id="ann")
    assert "message.declined" not in [e.type for e in events]
    assert events[0].data["bot_version"] == 2
    answer = completed(events)
    assert answer["declined"] is None and len(fake_llm.requests) == 1
    row = await stored(shop, answer["message_id"])
    assert row.declined is None
    assert row.route["policy"]["out_of_scope"] < THRESHOLD <= before
    # Only that message moved: other requests for poems are still out of scope.
    still = await ask(shop.client, "Write a haiku about coffee", user_id="ann")
    assert completed(still)["declined"] == "out_of_scope"

    # Undo is a rollback like any version's: the message is declined again.
    rolled = await shop.client.post(f"/v1/bots/{BOT}/rollback", json={"version": 1})
    assert rolled.status_code == 200 and rolled.json()["version"] == 3
    again = await ask(shop.client, POEM, user_id="ann")
    assert completed(again)["declined"] == "out_of_scope"


async def test_a_correction_is_refused_with_a_stable_code_when_it_makes_no_sense(
    shop: RunningServer,
) -> None:
    client = shop.client
    poem = completed(await ask(client, POEM, user_id="ann", session_id="s1"))["message_id"]
    gap = completed(await ask(client, UNANSWERABLE, user_id="ann"))["message_id"]
    fine = completed(await ask(client, ANSWERED, user_id="ann", session_id="s2"))["message_id"]
    question = (await client.get(f"/v1/bots/{BOT}/sessions/s2/messages")).json()["messages"][0]
    async with shop.db.write() as conn:
        await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
        secret = await create_key(conn, kind="secret", name="shop", bot_id=BOT)

    def in_scope(message_id: str, bot: str = BOT) -> str:
        return f"/v1/bots/{bot}/messages/{message_id}/in-scope"

    as_secret = {"authorization": f"Bearer {secret.key}"}
    assert_problem(await client.post(in_scope(poem), headers=as_secret), 403, "forbidden")
    assert_problem(await client.post(in_scope("nope")), 404, "message_not_found")
    assert_problem(await client.post(in_scope(poem, "other")), 404, "message_not_found")
    assert_problem(await client.post(in_scope(poem, "nobot")), 404, "bot_not_found")
    assert_problem(await client.post(in_scope(fine)), 409, "message_not_declined")
    visitor = assert_problem(
        await client.post(in_scope(question["id"])), 409, "message_not_declined"
    )
    assert "visitor's message" in visitor["detail"]
    assert_problem(await client.post(in_scope(gap)), 409, "declined_as_unanswerable")
    assert (await client.get(f"/v1/bots/{BOT}")).json()["version"] == 1  # nothing was saved

    assert (await client.post(in_scope(poem))).status_code == 200
    again = assert_problem(await client.post(in_scope(poem)), 409, "message_already_in_scope")
    assert "version 2" in again["detail"]
    assert (await client.get(f"/v1/bots/{BOT}")).json()["version"] == 2


async def test_a_decline_cut_off_by_a_dead_server_keeps_its_reason(
    make_settings: Settings,
) -> None:
    """Recovery ends a dead server's stream from its stored log: a decline it had begun is
    still recorded as one (interrupted, with the text so far)."""
    settings = make_settings.model_copy(update={"heartbeat_seconds": 60})  # no own recovery
    async with run_server(settings, bot=grounded_bot()) as server:
        events = await ask(server.client, POEM, user_id="ann")
        stream_id = events[0].data["stream_id"]
        first_delta = next(e.id for e in events if e.type == "message.delta")
        async with server.db.write() as conn:  # as a server that died after one delta leaves it
            await conn.execute(
                insert(Worker).values(
                    id="dead",
                    hostname=this_host(),
                    pid=2**22 + 1,  # above Linux's pid_max: no process has it
                    started_at=utcnow(),
                    heartbeat_at=utcnow() - timedelta(hours=1),
                )
            )
            await conn.execute(
                delete(LoggedEvent).where(
                    LoggedEvent.stream_id == stream_id, LoggedEvent.seq > first_delta
                )
            )
            await conn.execute(
                update(Stream)
                .where(Stream.id == stream_id)
                .values(status="streaming", worker_id="dead", last_seq=first_delta)
            )
            await conn.execute(
                update(Message)
                .where(Message.id == events[0].data["message_id"])
                .values(status="streaming", declined=None, content="")
            )

        assert await recover_orphans(server.db, me=None, heartbeat_seconds=60) == 1

        row = await stored(server, events[0].data["message_id"])
        assert (row.status, row.declined) == ("interrupted", "out_of_scope")
        assert row.content == events[first_delta - 1].data["text"]
