"""Handoff analytics: the handoff rate, a person's first reply p50/p95, how handoffs ended."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from chinwag.handoff.stats import percentile
from tests.handoff.conftest import BOT, Shop
from tests.helpers import accept, assert_problem, wait_finished

SESSION = f"/v1/bots/{BOT}/sessions"


async def _session(shop: Shop, headers: dict[str, str], **body: str) -> str:
    sent = await accept(shop.client, {"message": "Hei", **body}, **headers)
    await wait_finished(shop.client, sent.json()["assistant_message_id"])
    return str(sent.json()["session_id"])


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(20, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (10.0, 19.0)
    assert percentile([3.0], 0.95) == 3.0 and percentile([], 0.5) is None


async def test_handoff_rate_first_reply_and_endings(shop: Shop) -> None:
    answered = await _session(shop, shop.alice)
    unanswered = await _session(shop, shop.bob)
    await _session(shop, shop.alice)  # a conversation that never asks for a person
    for session, headers in ((answered, shop.alice), (unanswered, shop.bob)):
        asked = await shop.client.post(f"{SESSION}/{session}/handoff", headers=headers)
        assert asked.status_code == 200
    await shop.client.post(f"{SESSION}/{answered}/handoff/claim", headers=shop.operator)
    await asyncio.sleep(0.3)  # the visitor waits a moment for the person's first reply
    for text in ("Hei, Kari her", "Noe mer?"):  # only the first reply counts
        wrote = await shop.client.post(
            f"{SESSION}/{answered}/handoff/messages", json={"message": text}, headers=shop.operator
        )
        assert wrote.status_code == 201
    await shop.client.post(f"{SESSION}/{answered}/handoff/close", headers=shop.operator)
    await shop.client.post(f"{SESSION}/{unanswered}/handoff/claim", headers=shop.operator)
    await shop.client.post(f"{SESSION}/{unanswered}/handoff/release", headers=shop.operator)

    stats = await shop.client.get("/v1/handoffs/stats", params={"days": 7}, headers=shop.operator)
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert (body["conversations"], body["conversations_with_handoff"], body["requests"]) == (
        3,
        2,
        2,
    )
    assert abs(body["handoff_rate"] - 2 / 3) < 1e-9
    assert body["answered_by_a_person"] == 1
    assert 0.3 <= body["first_reply_p50_seconds"] < 10
    assert body["first_reply_p95_seconds"] == body["first_reply_p50_seconds"]
    assert (body["handed_back"], body["closed_by_a_person"], body["tickets"]) == (1, 1, 0)

    # Another bot's secret key counts its own bot only; a visitor may not ask.
    assert_problem(
        await shop.client.get("/v1/handoffs/stats", headers=shop.alice), 403, "forbidden"
    )
    empty = (await shop.client.get("/v1/handoffs/stats")).json()  # the admin: every bot
    assert empty["conversations_with_handoff"] == 2


async def test_one_bot_over_the_console_s_days(shop: Shop) -> None:
    """The console's Analytics asks for one bot and a range of days (as its other charts)."""
    session = await _session(shop, shop.alice)
    await _session(shop, shop.bob)
    await shop.client.post(f"{SESSION}/{session}/handoff", headers=shop.alice)
    await shop.client.post(f"{SESSION}/{session}/handoff/claim", headers=shop.operator)
    await shop.client.post(
        f"{SESSION}/{session}/handoff/messages", json={"message": "Hei"}, headers=shop.operator
    )
    await shop.client.post(f"{SESSION}/{session}/handoff/close", headers=shop.operator)
    today = datetime.now(UTC).date()

    def days(first: date, last: date) -> dict[str, str]:
        return {"bot_id": BOT, "since": first.isoformat(), "until": last.isoformat()}

    stats = await shop.client.get(
        "/v1/handoffs/stats", params=days(today - timedelta(days=6), today)
    )
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert (body["bot_id"], body["days"]) == (BOT, 7)
    assert body["since"].startswith((today - timedelta(days=6)).isoformat())
    assert (body["conversations"], body["conversations_with_handoff"]) == (2, 1)
    assert body["conversations_resolved_by_the_bot"] == 1
    assert (body["answered_by_a_person"], body["closed_by_a_person"]) == (1, 1)
    assert body["first_reply_p50_seconds"] is not None

    # Days before today hold nothing; so does another bot; an operator's key sees its own.
    before = await shop.client.get(
        "/v1/handoffs/stats", params=days(today - timedelta(days=9), today - timedelta(days=1))
    )
    assert (before.json()["conversations"], before.json()["requests"]) == (0, 0)
    assert before.json()["handoff_rate"] is None
    mine = await shop.client.get(
        "/v1/handoffs/stats", params={"bot_id": BOT}, headers=shop.operator
    )
    assert mine.json()["requests"] == 1
    assert_problem(
        await shop.client.get("/v1/handoffs/stats", params={"bot_id": "nope"}),
        404,
        "bot_not_found",
    )
    assert_problem(
        await shop.client.get("/v1/handoffs/stats", params=days(today, today - timedelta(days=1))),
        422,
        "invalid_request",
    )
    # A day before the first one the API takes (the fuzz test's): 422, not a date overflow.
    assert_problem(
        await shop.client.get("/v1/handoffs/stats", params={"days": 129, "until": "0001-01-01"}),
        422,
        "invalid_request",
    )
