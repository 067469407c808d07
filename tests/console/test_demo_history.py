"""`chinwag demo --seed-history`: a month of plausible conversations, consistent rows."""

from __future__ import annotations

from chinwag.console.demo_history import seed_history
from tests.conftest import RunningServer

BOT = "vinhuset"


async def test_a_month_of_conversations_in_both_languages_once(server: RunningServer) -> None:
    async with server.db.write() as conn:
        written = await seed_history(conn, bot_id=BOT, bot_version=1)
    async with server.db.write() as conn:
        assert await seed_history(conn, bot_id=BOT, bot_version=1) == 0  # once
    assert 150 < written < 400
    client = server.client
    items, cursor = [], None
    while True:
        page = (
            await client.get(
                "/v1/conversations", params={"limit": 200, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(items) == written
    firsts = {i["first_message"] for i in items}
    assert "Når har dere åpent på lørdag?" in firsts and "When are you open on Saturday?" in firsts
    assert any(i["user_display_name"] == "Kari Nordmann" for i in items)
    assert any(i["declined"]["out_of_scope"] for i in items)
    charts = (await client.get("/v1/analytics", params={"bot_id": BOT})).json()["charts"]
    assert len(charts["activity"]) >= 28  # nearly every day of the month has conversations
    assert sum(r["down"] for r in charts["feedback"]) > 3
    assert {r["flow"] for r in charts["flows"]} >= {"main", "statistics", "smalltalk"}
    doctor = (await client.get("/v1/doctor")).json()
    assert all(c["ok"] for c in doctor), doctor
    uncertain = await client.get(f"/v1/bots/{BOT}/routes/uncertain")
    assert uncertain.status_code == 200
