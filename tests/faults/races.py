"""Concurrent POSTs racing for the same rows: one Idempotency-Key, and the first messages of a
new end user and session."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from chinwag.conversations.models import ChatSession, EndUser, Message
from chinwag.streams.models import Stream
from tests.faults.lab import Lab, Store, fake_llm, full_text
from tests.faults.tally import Followed, Row, follow_cutting, settle
from tests.helpers import accept


def _client(base_url: str, key: str, width: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=width + 10, max_keepalive_connections=width + 10)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=60,
        limits=limits,
        headers={"authorization": f"Bearer {key}"},
    )


async def _session_rows(store: Store, session_external_id: str) -> tuple[list[int], int]:
    """The positions of the session's messages, and its streams."""
    async with store.db.read() as conn:
        positions = (
            (
                await conn.execute(
                    select(Message.position)
                    .join(ChatSession, ChatSession.id == Message.session_id)
                    .where(ChatSession.external_id == session_external_id)
                )
            )
            .scalars()
            .all()
        )
        streams = (
            await conn.execute(
                select(func.count())
                .select_from(Stream)
                .join(Message, Message.id == Stream.message_id)
                .join(ChatSession, ChatSession.id == Message.session_id)
                .where(ChatSession.external_id == session_external_id)
            )
        ).scalar_one()
    return list(positions), streams


async def idempotency_races(lab: Lab, database: str, count: int, *, width: int = 50) -> Row:
    """`count` races of `width` concurrent POSTs with one Idempotency-Key: one message, one
    generation, the same ids for all; its stream read to the end."""
    row = Row(f"idempotency races, {width}-way", database)
    followed: list[Followed] = []
    with fake_llm(8, 0.01) as llm:
        async with lab.store(database) as store, lab.servers(llm, [store.url]) as servers:
            async with _client(servers[0].base_url, store.key, width) as client:
                for race in range(count):
                    followed += await _idempotency_race(client, store, race, width, row)
            await settle(row, store.db, followed, full_text=full_text(llm))
            generations = len(llm.requests)
    row.trials = count
    row.extra["POSTs"] = count * width
    row.extra["LLM calls"] = generations
    row.duplicates += max(generations - count, 0)
    return row


async def _idempotency_race(
    client: httpx.AsyncClient, store: Store, race: int, width: int, row: Row
) -> list[Followed]:
    body = {
        "message": f"race {race}",
        "user_id": f"idem-user-{race}",
        "session_id": f"idem-session-{race}",
    }
    key = {"Idempotency-Key": f"faults-{race}"}
    answers = await asyncio.gather(*(accept(client, body, **key) for _ in range(width)))
    outs: list[dict[str, Any]] = [a.json() for a in answers if a.status_code == 202]
    if len(outs) < width:
        statuses = sorted({a.status_code for a in answers} - {202})
        row.failures.append(f"race {race}: {width - len(outs)} POST(s) answered {statuses}")
    if not outs:
        row.lost += 1
        return []
    originals = sum(not o["replayed"] for o in outs)
    row.duplicates += len({o["stream_id"] for o in outs}) - 1
    row.duplicates += len({o["user_message_id"] for o in outs}) - 1
    row.duplicates += max(originals - 1, 0)
    if originals == 0:
        row.failures.append(f"race {race}: every answer says `replayed`")
    followed = await follow_cutting(
        [str(client.base_url).rstrip("/")], store.key, outs[0]["stream_id"]
    )
    positions, streams = await _session_rows(store, body["session_id"])
    row.duplicates += max(len(positions) - 2, 0) + max(streams - 1, 0)
    row.lost += len(positions) < 2 or streams < 1
    return [followed]


async def first_message_races(lab: Lab, database: str, count: int, *, width: int = 200) -> Row:
    """`count` races of `width` concurrent first messages for one new end user and session:
    every POST accepted, one user and one session row, positions 1 … 2·width, every answer
    read to its end."""
    row = Row(f"first-message races, {width}-way", database)
    followed: list[Followed] = []
    with fake_llm(3, 0.0) as llm:
        async with lab.store(database) as store, lab.servers(llm, [store.url]) as servers:
            async with _client(servers[0].base_url, store.key, width) as client:
                for race in range(count):
                    followed += await _first_message_race(client, store, race, width, row)
            await settle(row, store.db, followed, full_text=full_text(llm))
    row.trials = count
    row.extra["POSTs"] = count * width
    return row


async def _first_message_race(
    client: httpx.AsyncClient, store: Store, race: int, width: int, row: Row
) -> list[Followed]:
    user, session = f"first-user-{race}", f"first-session-{race}"
    bodies = [
        {"message": f"question {i}", "user_id": user, "session_id": session} for i in range(width)
    ]
    answers = await asyncio.gather(*(accept(client, body) for body in bodies))
    outs = [a.json() for a in answers if a.status_code == 202]
    if len(outs) < width:
        statuses = sorted({a.status_code for a in answers} - {202})
        row.failures.append(f"race {race}: {width - len(outs)} POST(s) answered {statuses}")
    url = str(client.base_url).rstrip("/")
    followed = await asyncio.gather(
        *(follow_cutting([url], store.key, o["stream_id"], within=120) for o in outs)
    )
    duplicates, missing = await _rows_beyond_and_missing(store, user, session, len(outs))
    row.duplicates += duplicates
    row.lost += missing
    return list(followed)


async def _rows_beyond_and_missing(
    store: Store, user: str, session: str, accepted: int
) -> tuple[int, int]:
    """Rows beyond one user, one session, positions 1 … 2·accepted once each and `accepted`
    streams; and the messages of accepted POSTs that are not there."""
    async with store.db.read() as conn:
        users = (
            await conn.execute(
                select(func.count()).select_from(EndUser).where(EndUser.external_id == user)
            )
        ).scalar_one()
        sessions = (
            await conn.execute(
                select(func.count())
                .select_from(ChatSession)
                .where(ChatSession.external_id == session)
            )
        ).scalar_one()
    positions, streams = await _session_rows(store, session)
    repeated = len(positions) - len(set(positions))
    beyond = (
        max(users - 1, 0)
        + max(sessions - 1, 0)
        + repeated
        + max(len(set(positions)) - 2 * accepted, 0)
        + max(streams - accepted, 0)
    )
    return beyond, max(2 * accepted - len(set(positions)), 0)
