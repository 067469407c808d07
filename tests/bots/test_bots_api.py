"""The bots API: create, validate, update (a new version each time), roll back, and what
running streams and new messages see while that happens."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from chinwag.bots.models import BotVersion
from chinwag.conversations.models import Message
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer
from tests.helpers import ask


def config(system: str = "You are version A.", **extra: Any) -> dict[str, Any]:
    return {
        "id": "shop",
        "name": "Shop",
        "flows": {"main": {"system": system, "template": "{{ message }}"}},
        **extra,
    }


async def test_create_get_list_and_conflict(server: RunningServer) -> None:
    created = await server.client.post("/v1/bots", json=config())
    assert created.status_code == 201, created.text
    assert created.json() == {"id": "shop", "version": 1, "changed": True, "warnings": []}
    got = (await server.client.get("/v1/bots/shop")).json()
    assert got["version"] == 1 and got["config"]["flows"]["main"]["system"] == "You are version A."
    listed = (await server.client.get("/v1/bots")).json()
    assert {(b["id"], b["version"]) for b in listed} == {("shop", 1), ("vinhuset", 1)}
    again = await server.client.post("/v1/bots", json=config())
    assert again.status_code == 409 and again.json()["code"] == "bot_exists"


async def test_invalid_config_is_refused_with_every_problem(server: RunningServer) -> None:
    bad = config(system="{{ nope }}", routr={})
    response = await server.client.post("/v1/bots", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "bot_config_invalid" and body["hint"]
    assert {(p["path"], p["code"]) for p in body["problems"]} == {
        ("routr", "unknown_key"),
        ("flows.main.system", "template_unknown_variable"),
    }
    assert (await server.client.get("/v1/bots/shop")).status_code == 404

    checked = (await server.client.post("/v1/bots/validate", json=bad)).json()
    assert checked["ok"] is False and len(checked["problems"]) == 2
    file_ref = config(system={"file": "x.j2"})
    checked = (await server.client.post("/v1/bots/validate", json=file_ref)).json()
    assert [p["code"] for p in checked["problems"]] == ["file_reference_not_allowed"]


async def test_update_makes_versions_and_rollback_restores_behaviour(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    await server.client.post("/v1/bots", json=config("You are version A."))
    updated = await server.client.put("/v1/bots/shop", json=config("You are version B."))
    assert updated.json()["version"] == 2 and updated.json()["changed"] is True
    same = await server.client.put("/v1/bots/shop", json=config("You are version B."))
    assert same.json() == {"id": "shop", "version": 2, "changed": False, "warnings": []}

    events = await ask(server.client, "hi", bot="shop")
    assert events[0].data["bot_version"] == 2
    assert fake_llm.requests[-1]["messages"][0]["content"] == "You are version B."

    rolled = await server.client.post("/v1/bots/shop/rollback", json={"version": 1})
    assert rolled.json()["version"] == 3
    events = await ask(server.client, "hi", bot="shop")
    assert events[0].data["bot_version"] == 3
    assert fake_llm.requests[-1]["messages"][0]["content"] == "You are version A."

    versions = (await server.client.get("/v1/bots/shop/versions")).json()
    assert [(v["version"], v["active"], v["note"]) for v in versions] == [
        (1, False, "created"),
        (2, False, None),
        (3, True, "rollback to version 1"),
    ]
    v2 = (await server.client.get("/v1/bots/shop/versions/2")).json()
    assert v2["config"]["flows"]["main"]["system"] == "You are version B."
    missing = await server.client.get("/v1/bots/shop/versions/9")
    assert missing.status_code == 404 and missing.json()["code"] == "bot_version_not_found"
    async with server.db.read() as conn:
        stored = (await conn.execute(select(BotVersion.version))).scalars().all()
        answered = (
            await conn.execute(select(Message.bot_version).where(Message.role == "assistant"))
        ).scalars()
    assert sorted(stored) == [1, 1, 2, 3]  # vinhuset's 1 and shop's 1, 2, 3
    assert sorted(answered) == [2, 3]


async def test_an_invalid_update_leaves_the_active_version_serving(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    await server.client.post("/v1/bots", json=config("You are version A."))
    bad = config("{% if %}")
    response = await server.client.put("/v1/bots/shop", json=bad)
    assert response.status_code == 422
    assert response.json()["problems"][0]["code"] == "template_syntax_error"
    await ask(server.client, "hi", bot="shop")
    assert fake_llm.requests[-1]["messages"][0]["content"] == "You are version A."
    assert len((await server.client.get("/v1/bots/shop/versions")).json()) == 1


async def test_unset_env_var_blocks_activation(server: RunningServer) -> None:
    body = config(llm={"provider": "openai", "api_key_env": "CHINWAG_TEST_SURELY_UNSET"})
    response = await server.client.post("/v1/bots", json=body)
    assert response.status_code == 422
    assert [(p["path"], p["code"]) for p in response.json()["problems"]] == [
        ("llm.api_key_env", "env_var_not_set")
    ]


async def test_put_with_another_id_is_refused(server: RunningServer) -> None:
    response = await server.client.put("/v1/bots/other", json=config())
    assert response.status_code == 422 and response.json()["code"] == "bot_id_mismatch"


async def test_config_update_does_not_disturb_running_streams(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 20
    fake_llm.behaviour.token_delay = 0.05
    await server.client.post("/v1/bots", json=config("You are version A."))

    async def long_answer() -> list[Any]:
        return await ask(server.client, "hi", bot="shop")

    running = [asyncio.create_task(long_answer()) for _ in range(3)]
    await asyncio.sleep(0.3)  # the three streams are mid-answer
    updated = await server.client.put("/v1/bots/shop", json=config("You are version B."))
    assert updated.json()["version"] == 2
    finished = await asyncio.gather(*running)
    for events in finished:
        assert events[0].data["bot_version"] == 1
        assert events[-1].data["status"] == "completed"
        assert len([e for e in events if e.type == "message.delta"]) == 20
    first_prompts = [r["messages"][0]["content"] for r in fake_llm.requests[:3]]
    assert first_prompts == ["You are version A."] * 3
    events = await ask(server.client, "hi", bot="shop")
    assert events[0].data["bot_version"] == 2
    assert fake_llm.requests[-1]["messages"][0]["content"] == "You are version B."
