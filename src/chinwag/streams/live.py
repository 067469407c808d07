"""In-process live state of a stream: its committed frames and the readers waiting for more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator


class LiveStream:
    """Frames of one stream that are already durable, in seq order, plus waiting readers.

    Frames are only added after their events are committed (write-ahead), so a reader never
    sees an event the database could lose.
    """

    def __init__(self, stream_id: str, committed: list[bytes]) -> None:
        self.stream_id = stream_id
        self.frames: list[bytes] = committed  # frames[i] carries seq i + 1
        self.done = False
        self._waiters: set[asyncio.Future[None]] = set()

    def publish(self, frames: list[bytes], *, done: bool = False) -> None:
        self.frames.extend(frames)
        self.done = self.done or done
        self.wake_all()

    def wake_all(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def waiter(self) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(fut)
        return fut

    def follow(self, after: int, heartbeat_seconds: float) -> LiveFollower:
        return LiveFollower(self, after, heartbeat_seconds)


class LiveFollower:
    """A reader of a LiveStream from seq `after` onwards (a FrameSource for SSEResponse)."""

    def __init__(self, live: LiveStream, after: int, heartbeat_seconds: float) -> None:
        self.live = live
        self.position = max(after, 0)
        self.heartbeat_seconds = heartbeat_seconds
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None

    async def batches(self) -> AsyncIterator[bytes]:
        live = self.live
        while not self.closed:
            end = len(live.frames)
            if self.position < end:
                batch = b"".join(live.frames[self.position : end])
                self.position = end
                yield batch
                continue
            if live.done:
                return
            self._waiter = live.waiter()
            try:
                await asyncio.wait_for(asyncio.shield(self._waiter), self.heartbeat_seconds)
            except TimeoutError:
                yield b""

    def close(self) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
