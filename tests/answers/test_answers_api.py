"""Curated answers over HTTP: CRUD, filters, the message they correct, and who may do what."""

from __future__ import annotations

from sqlalchemy import select

from chinwag.answers.models import CuratedAnswer
from tests.auth.conftest import SITE, Keys
from tests.conftest import RunningServer
from tests.helpers import accept, wait_finished

BASE = "/v1/bots/vinhuset/answers"


async def test_create_read_update_delete(server: RunningServer) -> None:
    client = server.client
    created = await client.post(
        BASE,
        json={
            "question": "When are you open on Saturday?",
            "answer": "Saturdays 10:00-16:00.",
            "sources": [{"title": "Opening hours", "url": "https://shop.example/hours"}],
        },
    )
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["bot_id"] == "vinhuset"
    assert answer["enabled"] is True
    assert answer["message_id"] is None
    assert answer["sources"] == [{"title": "Opening hours", "url": "https://shop.example/hours"}]
    assert answer["created_at"].endswith("+00:00") or answer["created_at"].endswith("Z")

    one = await client.get(f"{BASE}/{answer['id']}")
    assert one.status_code == 200 and one.json() == answer

    patched = await client.patch(f"{BASE}/{answer['id']}", json={"enabled": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    assert patched.json()["answer"] == "Saturdays 10:00-16:00."
    assert patched.json()["updated_at"] >= answer["updated_at"]

    async with server.db.read() as conn:
        row = (await conn.execute(select(CuratedAnswer))).one()
    assert row.enabled is False and row.question == "When are you open on Saturday?"

    assert (await client.delete(f"{BASE}/{answer['id']}")).status_code == 204
    missing = await client.get(f"{BASE}/{answer['id']}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "curated_answer_not_found"
    assert (await client.delete(f"{BASE}/{answer['id']}")).status_code == 404


async def test_list_filters_by_enabled_and_text(server: RunningServer) -> None:
    client = server.client
    for question, enabled in (("Do you deliver?", True), ("Is 50% off real?", False)):
        response = await client.post(
            BASE, json={"question": question, "answer": "Yes.", "enabled": enabled}
        )
        assert response.status_code == 201
    everything = (await client.get(BASE)).json()["items"]
    assert [a["question"] for a in everything] == ["Do you deliver?", "Is 50% off real?"]
    disabled = (await client.get(BASE, params={"enabled": "false"})).json()["items"]
    assert [a["question"] for a in disabled] == ["Is 50% off real?"]
    found = (await client.get(BASE, params={"q": "DELIVER"})).json()["items"]
    assert [a["question"] for a in found] == ["Do you deliver?"]
    percent = (await client.get(BASE, params={"q": "50%"})).json()["items"]
    assert [a["question"] for a in percent] == ["Is 50% off real?"]
    assert (await client.get("/v1/bots/nope/answers")).json()["code"] == "bot_not_found"


async def test_an_answer_can_correct_one_of_the_bots_messages(server: RunningServer) -> None:
    client = server.client
    sent = (await accept(client, {"message": "Hei"})).json()
    await wait_finished(client, sent["assistant_message_id"])
    body = {"question": "Hei", "answer": "Hei! Hva kan jeg hjelpe med?"}
    fixed = await client.post(BASE, json={**body, "message_id": sent["assistant_message_id"]})
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["message_id"] == sent["assistant_message_id"]
    wrong = await client.post(BASE, json={**body, "message_id": sent["user_message_id"]})
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "invalid_request"
    # Erasing the conversation keeps the curated answer, without its link.
    erased = await client.delete(f"/v1/bots/vinhuset/sessions/{sent['session_id']}")
    assert erased.status_code == 200, erased.text
    kept = (await client.get(f"{BASE}/{fixed.json()['id']}")).json()
    assert kept["message_id"] is None


async def test_invalid_bodies_are_problems(server: RunningServer) -> None:
    client = server.client
    for body in (
        {"question": "", "answer": "x"},
        {"question": "q"},
        {"question": "q", "answer": "a", "sources": [{"title": "t", "url": "ftp://x"}]},
        {"question": "q", "answer": "a", "colour": "red"},
    ):
        response = await client.post(BASE, json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"


async def test_who_may_use_curated_answers(server: RunningServer, keys: Keys) -> None:
    created = await server.client.post(BASE, json={"question": "q", "answer": "a"})
    path = f"{BASE}/{created.json()['id']}"
    secret = Keys.bearer(keys.secret)
    assert (await server.client.get(BASE, headers=secret)).status_code == 200
    assert (await server.client.get(path, headers=secret)).status_code == 200
    assert (
        await server.client.patch(path, json={"answer": "b"}, headers=secret)
    ).status_code == 200
    for headers, status in (
        (Keys.bearer(keys.other_secret), 404),
        (Keys.bearer(keys.publishable, SITE), 403),
        ({"authorization": "Bearer cw_sk_nope"}, 401),
    ):
        response = await server.client.get(path, headers=headers)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
