"""Counting instead of asserting: followers that record what they saw, and the row of figures
(lost, gaps, duplicates, left `streaming`, doctor) that a scenario reports."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from sqlalchemy import select

from chinwag.conversations.models import Message
from chinwag.db.uow import Database
from chinwag.operations.doctor import run_checks
from chinwag.streams.models import Stream
from tests.sse_client import SSEEvent, iter_events

# A row fails on any of these above zero.
ZERO_FIGURES = ("lost", "gaps", "duplicates", "left_streaming", "doctor_problems")


@dataclass
class Row:
    """One scenario on one database: the figures `make faults` prints."""

    scenario: str
    database: str
    trials: int = 0
    lost: int = 0
    gaps: int = 0
    duplicates: int = 0
    left_streaming: int = 0
    doctor_problems: int = 0
    extra: dict[str, float | int | str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # other requirements not met
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures and all(getattr(self, f) == 0 for f in ZERO_FIGURES)

    def add(self, tally: Tally) -> None:
        self.lost += tally.lost
        self.gaps += tally.gaps
        self.duplicates += tally.duplicates
        self.left_streaming += tally.left_streaming


@dataclass
class Followed:
    """What one follower saw of one stream, over all its connections."""

    stream_id: str
    events: list[SSEEvent] = field(default_factory=list)  # in arrival order, repeats included
    connections: list[str] = field(default_factory=list)  # the server of each connection
    cuts: int = 0  # connections it closed on purpose
    ended: bool = False  # it received stream.completed

    @property
    def text(self) -> str:
        seen: set[int] = set()
        parts = []
        for event in self.events:
            if event.id not in seen:
                seen.add(event.id)
                if event.type == "message.delta":
                    parts.append(event.data["text"])
        return "".join(parts)

    def gaps_and_duplicates(self) -> tuple[int, int]:
        gaps = duplicates = 0
        last = 0
        for event in self.events:
            if event.id <= last:
                duplicates += 1
                continue
            gaps += event.id > last + 1
            last = event.id
        return gaps, duplicates


async def follow_cutting(
    urls: Sequence[str],
    key: str,
    stream_id: str,
    *,
    cuts: int = 0,
    rng: random.Random | None = None,
    most_events_per_cut: int = 8,
    within: float = 90,
) -> Followed:
    """Read a stream to its end as a browser does: `cuts` times, close the connection after a
    random number of events (1 … most_events_per_cut); after a cut or any failure reconnect with
    Last-Event-ID to the next server of `urls`, in turn. Never raises for the stream: a follower
    that runs out of time returns with `ended` False."""
    rng = rng or random.Random()
    followed = Followed(stream_id)
    headers = {"authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=20)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    turn = 0
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        while not followed.ended and loop.time() < deadline:
            url = urls[turn % len(urls)]
            turn += 1
            cut_after = rng.randint(1, most_events_per_cut) if followed.cuts < cuts else None
            last = str(max((e.id for e in followed.events), default=0))
            resume = {**headers, "Last-Event-ID": last}
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.1)):
                    followed.cuts += await _one_connection(
                        client, url, stream_id, resume, cut_after, followed
                    )
            except (httpx.HTTPError, TimeoutError):
                await asyncio.sleep(0.2)
    return followed


async def _one_connection(
    client: httpx.AsyncClient,
    url: str,
    stream_id: str,
    headers: dict[str, str],
    cut_after: int | None,
    followed: Followed,
) -> int:
    """1 if this connection was cut on purpose, else 0."""
    async with client.stream(
        "GET", f"{url}/v1/streams/{stream_id}/events", headers=headers
    ) as response:
        if response.status_code != 200:
            await asyncio.sleep(0.2)  # e.g. 503 while the database is away: try again
            return 0
        followed.connections.append(url)
        received = 0
        async for event in iter_events(response):
            followed.events.append(event)
            received += 1
            if event.type == "stream.completed":
                followed.ended = True
                return 0
            if cut_after is not None and received >= cut_after:
                return 1  # leaving the block closes the connection mid-stream
    return 0


@dataclass
class Tally:
    lost: int = 0
    gaps: int = 0
    duplicates: int = 0
    left_streaming: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


async def tally(db: Database, followed: Sequence[Followed], *, full_text: str | None) -> Tally:
    """Lost: a stream whose stored text differs from what a follower assembled, a follower that
    got no stream.completed, or a completed answer without the whole text (`full_text`, when
    known). Gaps and duplicates: in the seqs each follower received. Left: still `streaming`."""
    result = Tally()
    by_stream: dict[str, list[Followed]] = {}
    for f in followed:
        by_stream.setdefault(f.stream_id, []).append(f)
    async with db.read() as conn:
        rows = (
            await conn.execute(
                select(Stream.id, Stream.status, Message.content)
                .join(Message, Message.id == Stream.message_id)
                .where(Stream.id.in_(list(by_stream)))
            )
        ).all()
    stored = {r.id: (r.status, r.content) for r in rows}
    for stream_id, followers in by_stream.items():
        status, content = stored.get(stream_id, ("missing", None))
        result.statuses[status] += 1
        result.left_streaming += status == "streaming"
        lost = status == "missing" or (
            status == "completed" and full_text is not None and content != full_text
        )
        for f in followers:
            gaps, duplicates = f.gaps_and_duplicates()
            result.gaps += gaps
            result.duplicates += duplicates
            lost = lost or not f.ended or f.text != content
        result.lost += lost
    return result


async def settle(
    row: Row,
    db: Database,
    followed: Sequence[Followed],
    *,
    full_text: str | None,
    heartbeat_seconds: float = 2.0,
) -> Tally:
    """A scenario's end: what its followers saw against the database (into `row`), and what
    `chinwag doctor` finds."""
    result = await tally(db, followed, full_text=full_text)
    row.add(result)
    row.doctor_problems = len(await doctor_problems(db, heartbeat_seconds=heartbeat_seconds))
    return result


async def doctor_problems(db: Database, *, heartbeat_seconds: float) -> list[str]:
    """The names of the checks `chinwag doctor` fails."""
    checks = await run_checks(db, heartbeat_seconds=heartbeat_seconds)
    return [f"{c.name}: {c.detail}" for c in checks if not c.ok]


async def wait_none_streaming(db: Database, stream_ids: Sequence[str], within: float) -> float:
    """Seconds until none of the streams is `streaming` (or `within`, if some still are)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < within:
        async with db.read() as conn:
            open_ = (
                await conn.execute(
                    select(Stream.id)
                    .where(Stream.id.in_(list(stream_ids)), Stream.status == "streaming")
                    .limit(1)
                )
            ).first()
        if open_ is None:
            return loop.time() - start
        await asyncio.sleep(0.05)
    return within
