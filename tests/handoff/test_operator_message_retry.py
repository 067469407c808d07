"""An operator's message sent again with the same Idempotency-Key (a browser resends a request
whose worker died between its commit and its reply) is stored once."""

from __future__ import annotations

from sqlalchemy import func, select

from chinwag.conversations.models import Message, SessionEvent
from tests.handoff.conftest import BOT, Shop
from tests.helpers import accept, wait_finished


async def _claimed_session(shop: Shop) -> str:
    sent = await accept(shop.client, {"message": "Hei"}, **shop.alice)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    session = str(sent.json()["session_id"])
    handoff = f"/v1/bots/{BOT}/sessions/{session}/handoff"
    assert (await shop.client.post(handoff, headers=shop.alice)).status_code == 200
    claimed = await shop.client.post(f"{handoff}/claim", json={"name": "Kari"}, **_as(shop))
    assert claimed.status_code == 200, claimed.text
    return session


def _as(shop: Shop, key: str | None = None) -> dict[str, dict[str, str]]:
    headers = dict(shop.operator)
    if key is not None:
        headers["idempotency-key"] = key
    return {"headers": headers}


async def _stored(shop: Shop) -> tuple[int, int]:
    """(messages, session events) stored."""
    async with shop.server.db.read() as conn:
        messages = (await conn.execute(select(func.count()).select_from(Message))).scalar()
        events = (await conn.execute(select(func.count()).select_from(SessionEvent))).scalar()
    return int(messages or 0), int(events or 0)


async def test_the_same_key_stores_the_message_once(shop: Shop) -> None:
    session = await _claimed_session(shop)
    url = f"/v1/bots/{BOT}/sessions/{session}/handoff/messages"
    first = await shop.client.post(url, json={"message": "Hei!"}, **_as(shop, "k-1"))
    assert first.status_code == 201, first.text
    before = await _stored(shop)
    again = await shop.client.post(url, json={"message": "Hei!"}, **_as(shop, "k-1"))
    assert again.status_code == 201, again.text
    assert again.json() == {**first.json(), "replayed": True}
    assert first.json()["replayed"] is False
    assert await _stored(shop) == before  # no message, no event

    other = await shop.client.post(url, json={"message": "Hallo!"}, **_as(shop, "k-1"))
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["hint"]
    without = [await shop.client.post(url, json={"message": "Hei!"}, **_as(shop)) for _ in "ab"]
    assert [r.status_code for r in without] == [201, 201]  # no key: each is a new message
    messages, events = await _stored(shop)
    assert (messages, events) == (before[0] + 2, before[1] + 2)
