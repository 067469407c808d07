"""PostgreSQL and Redis going away under live streams, two workers each time; every stream is
followed on the worker that does not write it."""

from __future__ import annotations

import asyncio
import contextlib

from redis import Redis

from chinwag.streams.fanout import stream_key
from tests.faults.lab import Lab, fake_llm, full_text
from tests.faults.streams import Started, start_streams
from tests.faults.tally import Followed, Row, follow_cutting, settle
from tests.pg_proxy import PgProxy

TOKENS = 40
TOKEN_DELAY = 0.1  # answers take 4 s: the outage falls in the middle of them


async def _start_on_both(urls: list[str], key: str, count: int) -> list[Started]:
    half = count // 2
    return await start_streams(urls[0], key, half) + await start_streams(urls[1], key, count - half)


def _follow_on_the_other(
    urls: list[str], key: str, started: list[Started]
) -> list[asyncio.Task[Followed]]:
    """Each stream followed from the worker that does not write it (the writer on failure)."""
    return [
        asyncio.create_task(
            follow_cutting([u for u in urls if u != s.via] + [s.via], key, s.stream_id, within=120)
        )
        for s in started
    ]


async def postgres_outage(lab: Lab, count: int, *, outage_seconds: float = 3.0) -> Row:
    """`count` streams over two workers, each worker reaching PostgreSQL through a proxy; one
    second in, both proxies cut every connection for `outage_seconds`, then let them back."""
    row = Row(f"PostgreSQL outage {outage_seconds:g} s", "postgres")
    with fake_llm(TOKENS, TOKEN_DELAY) as llm, PgProxy() as proxy_a, PgProxy() as proxy_b:
        async with (
            lab.store("postgres") as store,
            lab.servers(llm, [proxy_a.url(store.name), proxy_b.url(store.name)]) as servers,
        ):
            urls = [s.base_url for s in servers]
            started = await _start_on_both(urls, store.key, count)
            followers = _follow_on_the_other(urls, store.key, started)
            await asyncio.sleep(1.0)
            with contextlib.ExitStack() as outage:
                outage.enter_context(proxy_a.outage())
                outage.enter_context(proxy_b.outage())
                await asyncio.sleep(outage_seconds)
            followed = await asyncio.gather(*followers)
            result = await settle(row, store.db, followed, full_text=full_text(llm))
    row.trials = count
    row.extra.update({status: n for status, n in sorted(result.statuses.items())})
    return row


async def redis_outage(lab: Lab, count: int, *, outage_seconds: float = 2.0) -> Row:
    """`count` streams over two workers with Redis fan-out; one second in, the Redis server is
    stopped, and started again `outage_seconds` later; then one more answer must go through
    Redis again."""
    row = Row(f"Redis outage {outage_seconds:g} s", "postgres")
    with fake_llm(TOKENS, TOKEN_DELAY) as llm, lab.redis() as redis:
        async with (
            lab.store("postgres") as store,
            lab.servers(llm, [store.url] * 2, redis_url=redis.url) as servers,
        ):
            urls = [s.base_url for s in servers]
            started = await _start_on_both(urls, store.key, count)
            followers = _follow_on_the_other(urls, store.key, started)
            await asyncio.sleep(1.0)
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(outage_seconds)
            await asyncio.to_thread(redis.start)
            followed = await asyncio.gather(*followers)
            # Redis back: the next answer goes through it again.
            (fresh,) = await start_streams(urls[0], store.key, 1)
            if not (await follow_cutting([urls[1]], store.key, fresh.stream_id)).ended:
                row.failures.append("the answer after the outage did not end")
            client = Redis(port=redis.port)
            try:
                entries = client.xlen(stream_key(fresh.stream_id))
            finally:
                client.close()
            if not entries:
                row.failures.append("fan-out did not come back through Redis after the outage")
            result = await settle(row, store.db, followed, full_text=full_text(llm))
    row.trials = count
    row.extra.update({status: n for status, n in sorted(result.statuses.items())})
    return row
