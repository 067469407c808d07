"""Typing indicators while a person has a conversation: ephemeral signals, never stored and
never numbered, so that the session's durable log (and its resume by Last-Event-ID) is
untouched.

A side signals (throttled to one signal per THROTTLE_SECONDS per side and session, across
workers with Redis); every follower of the session, on any worker, gets a `typing` event
without `id:` between the log's events, which tells it how long to show the indicator
(EXPIRES_SECONDS: it goes away by itself unless a new signal comes). With Redis the signal
travels over a pub/sub channel: at most once, which is all a typing indicator needs; without
Redis (one worker) it goes to this worker's followers directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from chinwag.db.redis import RETRY_SECONDS, RedisOutage, redis_errors
from chinwag.streams.events import LogEntry
from chinwag.streams.sse import encode_unnumbered_frame

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from chinwag.handoff.follow import SessionFollower

log = logging.getLogger(__name__)

THROTTLE_SECONDS = 2.0  # at most one signal per side and session in this time
EXPIRES_SECONDS = 5.0  # how long a follower shows the indicator after a signal
CHANNEL = "chinwag:typing"
QUEUE_SIZE = 16  # signals waiting for a slow follower; more are dropped (they are stale)
TYPING_TYPE = "typing"

Side = Literal["visitor", "operator"]


class Typing(BaseModel):
    """Someone is typing in the conversation (an SSE event without `id:`; not in the log)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["typing"] = "typing"
    who: Side
    name: str | None = None  # the operator's name, as the visitor sees it
    expires_in_ms: int = int(EXPIRES_SECONDS * 1000)


def typing_entry(data: str) -> LogEntry:
    """A signal as an entry of a follower's batch: seq 0, a frame without `id:`."""
    return LogEntry(0, TYPING_TYPE, data, encode_unnumbered_frame(TYPING_TYPE, data))


class TypingHub:
    """A worker's typing signals: who follows which session here, the throttle, and (with
    Redis) the channel that carries signals between workers."""

    def __init__(
        self, redis: Redis | None = None, *, redis_failed: Callable[[str], None] | None = None
    ) -> None:
        self.redis = redis
        self._followers: dict[str, set[asyncio.Queue[LogEntry]]] = {}
        self._last: dict[tuple[str, str], float] = {}  # the throttle without Redis
        self._listener: asyncio.Task[None] | None = None
        self._errors = redis_errors() if redis is not None else ()
        self.outage = RedisOutage(
            fallback="typing signals reach this worker's followers only",
            back="typing signals reach every worker",
            count=redis_failed or (lambda operation: None),
        )

    async def signal(self, session_pk: str, typing: Typing) -> bool:
        """Send the signal to the session's followers, unless its side signalled less than
        THROTTLE_SECONDS ago (False then)."""
        if not await self._first_in_a_while(session_pk, typing.who):
            return False
        data = typing.model_dump_json()
        if self.redis is not None and self.outage.available:
            try:
                await self.redis.publish(CHANNEL, orjson.dumps({"s": session_pk, "d": data}))
            except self._errors as exc:
                self.outage.failed("publish", exc)
            else:
                self.outage.recovered()
                return True
        self._deliver(session_pk, data)
        return True

    async def _first_in_a_while(self, session_pk: str, who: str) -> bool:
        if self.redis is not None and self.outage.available:
            try:
                first = await self.redis.set(
                    f"{CHANNEL}:{session_pk}:{who}",
                    b"1",
                    px=int(THROTTLE_SECONDS * 1000),
                    nx=True,
                )
            except self._errors as exc:
                self.outage.failed("throttle", exc)
            else:
                return bool(first)
        now = time.monotonic()
        if len(self._last) > 10_000:  # forget the sessions that went quiet
            self._last = {k: t for k, t in self._last.items() if now - t < THROTTLE_SECONDS}
        last = self._last.get((session_pk, who))
        if last is not None and now - last < THROTTLE_SECONDS:
            return False
        self._last[(session_pk, who)] = now
        return True

    def _deliver(self, session_pk: str, data: str) -> None:
        entry = typing_entry(data)
        for queue in self._followers.get(session_pk, ()):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(entry)

    def start(self) -> None:
        """Listen to the other workers' signals (with Redis), before the first follower."""
        if self.redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="chinwag-typing")

    @contextlib.asynccontextmanager
    async def subscription(self, session_pk: str) -> AsyncIterator[asyncio.Queue[LogEntry]]:
        """The session's signals while the context is open."""
        self.start()
        queue: asyncio.Queue[LogEntry] = asyncio.Queue(QUEUE_SIZE)
        self._followers.setdefault(session_pk, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._followers.get(session_pk, set())
            queues.discard(queue)
            if not queues:
                self._followers.pop(session_pk, None)

    async def _listen(self) -> None:
        """Hand the channel's signals to this worker's followers (one subscription per
        worker, whatever the number of followers); subscribe again after a failure."""
        assert self.redis is not None
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.outage.recovered()
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and message["type"] == "message":
                            try:
                                body = orjson.loads(message["data"])
                                self._deliver(body["s"], body["d"])
                            except (ValueError, KeyError, TypeError):  # not one of ours
                                log.warning("ignored a malformed message on %s", CHANNEL)
            except self._errors as exc:
                self.outage.failed("subscribe", exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


class SessionFeed:
    """What a session's follower sends: the durable log's events (with `id:`) and, between
    them, the session's typing signals (without), so that Last-Event-ID only ever names a
    logged event."""

    def __init__(self, follower: SessionFollower, hub: TypingHub) -> None:
        self.follower = follower
        self.hub = hub

    async def entries(self) -> AsyncIterator[list[LogEntry]]:
        async with self.hub.subscription(self.follower.session_pk) as signals:
            durable = self.follower.entries()
            next_batch = asyncio.ensure_future(anext(durable))
            next_signal = asyncio.ensure_future(signals.get())
            try:
                while True:
                    done, _ = await asyncio.wait(
                        (next_batch, next_signal), return_when=asyncio.FIRST_COMPLETED
                    )
                    if next_signal in done:
                        yield [next_signal.result()]
                        next_signal = asyncio.ensure_future(signals.get())
                    if next_batch in done:
                        try:
                            batch = next_batch.result()
                        except StopAsyncIteration:
                            return
                        yield batch
                        next_batch = asyncio.ensure_future(anext(durable))
            finally:
                for task in (next_batch, next_signal):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                        await task
                aclose = getattr(durable, "aclose", None)
                if aclose is not None:
                    await aclose()

    def close(self) -> None:
        self.follower.close()
