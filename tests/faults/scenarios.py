"""Streams under client and worker faults: random disconnects on one server, drop-and-resume
across two workers, and SIGKILL of the worker that generates."""

from __future__ import annotations

import asyncio
import math
import random

from sqlalchemy import update

from chinwag.db.uow import Database
from chinwag.generations.workers import grace_seconds
from chinwag.streams.models import Worker
from tests.faults.lab import Lab, fake_llm, full_text
from tests.faults.processes import ServerProcess
from tests.faults.streams import start_streams
from tests.faults.tally import (
    Followed,
    Row,
    doctor_problems,
    follow_cutting,
    settle,
    tally,
    wait_none_streaming,
)

TOKENS = 40  # ≥ 45 events per stream: room for 5 cuts of at most 8 events each
CUTS_PER_STREAM = 5
MOST_EVENTS_PER_CUT = 8
STREAMS_AT_ONCE = 50


def _cuts_per_stream(count: int) -> list[int]:
    """`count` cuts spread over streams of at most CUTS_PER_STREAM each."""
    streams = math.ceil(count / CUTS_PER_STREAM)
    return [min(CUTS_PER_STREAM, count - i * CUTS_PER_STREAM) for i in range(streams)]


async def random_disconnects(lab: Lab, database: str, count: int, *, seed: int = 1) -> Row:
    """One server; each follower cuts its connection after a random event and resumes with
    Last-Event-ID, `count` cuts in all."""
    row = Row("random client disconnects", database)
    rng = random.Random(seed)
    plan = _cuts_per_stream(count)
    followed: list[Followed] = []
    with fake_llm(TOKENS, 0.02) as llm:
        async with lab.store(database) as store, lab.servers(llm, [store.url]) as servers:
            url = servers[0].base_url
            for first in range(0, len(plan), STREAMS_AT_ONCE):
                batch = plan[first : first + STREAMS_AT_ONCE]
                started = await start_streams(url, store.key, len(batch))
                followed += await asyncio.gather(
                    *(
                        follow_cutting(
                            [url],
                            store.key,
                            s.stream_id,
                            cuts=cuts,
                            rng=random.Random(rng.random()),
                            most_events_per_cut=MOST_EVENTS_PER_CUT,
                        )
                        for s, cuts in zip(started, batch, strict=True)
                    )
                )
            await settle(row, store.db, followed, full_text=full_text(llm))
    row.trials = sum(f.cuts for f in followed)
    row.extra["streams"] = len(followed)
    if row.trials != count:
        row.failures.append(f"{row.trials} cuts happened, not {count}")
    return row


async def drop_and_resume_across_workers(lab: Lab, count: int, *, seed: int = 2) -> Row:
    """Two `chinwag serve` on PostgreSQL with Redis fan-out; streams start on either; each
    follower starts on the generating worker and moves to the other one at every reconnect."""
    row = Row("drop-and-resume across workers", "postgres")
    rng = random.Random(seed)
    plan = _cuts_per_stream(count)
    followed: list[tuple[str, Followed]] = []  # (generating server, follower)
    with fake_llm(TOKENS, 0.02) as llm, lab.redis() as redis:
        async with (
            lab.store("postgres") as store,
            lab.servers(llm, [store.url] * 2, redis_url=redis.url) as servers,
        ):
            urls = [s.base_url for s in servers]
            for first in range(0, len(plan), STREAMS_AT_ONCE):
                batch = plan[first : first + STREAMS_AT_ONCE]
                half = len(batch) // 2
                started = await start_streams(urls[0], store.key, half)
                started += await start_streams(urls[1], store.key, len(batch) - half)
                results = await asyncio.gather(
                    *(
                        follow_cutting(
                            [s.via, *(u for u in urls if u != s.via)],
                            store.key,
                            s.stream_id,
                            cuts=cuts,
                            rng=random.Random(rng.random()),
                            most_events_per_cut=MOST_EVENTS_PER_CUT,
                        )
                        for s, cuts in zip(started, batch, strict=True)
                    )
                )
                followed += [(s.via, f) for s, f in zip(started, results, strict=True)]
            await settle(row, store.db, [f for _, f in followed], full_text=full_text(llm))
    row.trials = sum(f.cuts for _, f in followed)
    reconnects = [(via, url) for via, f in followed for url in f.connections[1:]]
    share = sum(url != via for via, url in reconnects) / max(len(reconnects), 1)
    row.extra["reconnects"] = len(reconnects)
    row.extra["on the other worker"] = f"{share:.0%}"
    if share < 0.5:
        row.failures.append(f"only {share:.0%} of reconnects on the other worker")
    if row.trials != count:
        row.failures.append(f"{row.trials} cuts happened, not {count}")
    return row


async def _as_if_on_another_host(db: Database, server: ServerProcess) -> None:
    """Rename the server's worker row's host: its peer cannot see that its process is gone and
    must wait for the grace period of silence, as a peer on another machine does."""
    assert server.proc is not None
    async with db.write() as conn:
        await conn.execute(
            update(Worker)
            .where(Worker.pid == server.proc.pid, Worker.stopped_at.is_(None))
            .values(hostname="faults-elsewhere")
        )


async def sigkill_generating_worker(
    lab: Lab,
    count: int,
    *,
    streams_per_kill: int = 3,
    heartbeat_seconds: float = 0.5,
    seed: int = 3,
) -> Row:
    """Two workers (PostgreSQL, Redis); streams start on A and are followed on B (and on A,
    moving to B when A dies); A is SIGKILLed mid-stream; B must end them `interrupted` with
    their durable text within the bound; A restarts; `count` times. Every other time A's worker
    row names another host, so that B cannot see the process is gone and must wait for the
    grace period."""
    row = Row("SIGKILL of the generating worker", "postgres")
    rng = random.Random(seed)
    # the grace period, then up to two beats until the survivor's sweep has ended the streams
    bound = grace_seconds(heartbeat_seconds) + 2 * heartbeat_seconds
    finish: dict[bool, list[float]] = {False: [], True: []}  # by: on another host
    followed: list[Followed] = []
    without_ending = 0
    with fake_llm(200, 0.05) as llm, lab.redis() as redis:
        async with (
            lab.store("postgres") as store,
            lab.servers(
                llm,
                [store.url] * 2,
                heartbeat_seconds=heartbeat_seconds,
                redis_url=redis.url,
            ) as (victim, survivor),
        ):
            for trial_no in range(count):
                started = await start_streams(victim.base_url, store.key, streams_per_kill)
                ids = [s.stream_id for s in started]
                tasks = [
                    asyncio.create_task(follow_cutting(urls, store.key, stream_id, within=60))
                    for stream_id in ids
                    for urls in ([survivor.base_url], [victim.base_url, survivor.base_url])
                ]
                await asyncio.sleep(rng.uniform(0.3, 1.5))  # the answers take 10 s
                if elsewhere := bool(trial_no % 2):
                    await _as_if_on_another_host(store.db, victim)
                victim.kill()
                took = await wait_none_streaming(store.db, ids, within=bound * 4 + 10)
                finish[elsewhere].append(took)
                trial = await asyncio.gather(*tasks)
                without_ending += sum(
                    [e.type for e in f.events[-2:]] != ["error", "stream.completed"] for f in trial
                )
                followed += trial
                victim.start()
                await victim.wait_ready()
            result = await tally(store.db, followed, full_text=None)
            row.add(result)
            problems = await doctor_problems(store.db, heartbeat_seconds=heartbeat_seconds)
            row.doctor_problems = len(problems)
    row.trials = count
    over = sum(s > bound for took in finish.values() for s in took)
    row.extra["heartbeat s"] = heartbeat_seconds
    row.extra["bound s"] = bound
    for elsewhere, label in ((False, "same host"), (True, "other host")):
        ordered = sorted(finish[elsewhere])
        if ordered:
            median, most = ordered[len(ordered) // 2], ordered[-1]
            row.extra[f"kill→ended s, {label} (median/max)"] = f"{median:.2f}/{most:.2f}"
    row.extra["interrupted"] = result.statuses["interrupted"]
    if over:
        row.failures.append(f"{over} kill(s) ended later than {bound} s")
    if without_ending:
        row.failures.append(f"{without_ending} follower(s) without error + stream.completed")
    return row
