"""Paging through the conversation list with its cursor, past the 200-row cap of one page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from chinwag.conversations.models import ChatSession, EndUser
from chinwag.db.base import new_id, utcnow
from tests.conftest import RunningServer

BOT = "vinhuset"


async def _seed_sessions(server: RunningServer, count: int) -> None:
    """`count` conversations of one user; every third shares its neighbour's last activity, so
    the order must break ties (by id) for a page boundary to fall between equal times."""
    now = utcnow()
    user = new_id()
    async with server.db.write() as conn:
        await conn.execute(
            insert(EndUser).values(id=user, bot_id=BOT, external_id="many", created_at=now)
        )
        rows = []
        for i in range(count):
            at = now - timedelta(minutes=i - i % 3)
            rows.append(
                {
                    "id": new_id(),
                    "bot_id": BOT,
                    "user_id": user,
                    "external_id": f"s{i:04d}",
                    "message_count": 0,
                    "created_at": at,
                    "last_message_at": at,
                }
            )
        await conn.execute(insert(ChatSession), rows)


async def _all_pages(server: RunningServer, limit: int, **filters: str) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit), **filters, **({"cursor": cursor} if cursor else {})}
        response = await server.client.get("/v1/conversations", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["session_id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_a_cursor_pages_through_more_conversations_than_one_page_holds(
    server: RunningServer,
) -> None:
    await _seed_sessions(server, 430)
    pages = await _all_pages(server, 200, bot_id=BOT)
    assert [len(p) for p in pages] == [200, 200, 30]
    seen = [s for p in pages for s in p]
    assert len(set(seen)) == 430  # none twice, none missed
    small = await _all_pages(server, 50, user_id="many")
    assert len(small) == 9 and [s for p in small for s in p] == seen  # the same stable order


async def test_a_new_conversation_does_not_shift_the_next_page(server: RunningServer) -> None:
    await _seed_sessions(server, 6)
    first = (await server.client.get("/v1/conversations", params={"limit": 3})).json()
    async with server.db.write() as conn:  # newer than everything: it goes on top
        user = new_id()
        await conn.execute(
            insert(EndUser).values(id=user, bot_id=BOT, external_id="late", created_at=utcnow())
        )
        await conn.execute(
            insert(ChatSession).values(
                id=new_id(),
                bot_id=BOT,
                user_id=user,
                external_id="newest",
                message_count=0,
                created_at=utcnow() + timedelta(hours=1),
                last_message_at=utcnow() + timedelta(hours=1),
            )
        )
    second = await server.client.get(
        "/v1/conversations", params={"limit": 3, "cursor": first["next_cursor"]}
    )
    ids = [i["session_id"] for i in first["items"] + second.json()["items"]]
    assert sorted(ids) == [f"s{i:04d}" for i in range(6)]


async def test_a_cursor_the_list_did_not_give_is_refused_with_its_cause(
    server: RunningServer,
) -> None:
    for cursor in ("bm90LWpzb24", "12"):
        response = await server.client.get("/v1/conversations", params={"cursor": cursor})
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "invalid_request" and "next_cursor" in problem["hint"]
        assert problem["errors"] == [
            {"path": "query.cursor", "message": "not a cursor of this list"}
        ]
