"""Embeddings of concurrent messages computed together: one model call for a batch."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

K = TypeVar("K", bound=Hashable)  # what is embedded: a text, or a piece of one (pieces.py)


# An idle model waits for company only when texts come this close together (in units of
# `max_wait`): after a quiet spell another text within `max_wait` is unlikely, and the wait
# would only add to the first word's latency (2 ms a message at low load, by default).
TRAFFIC_GAPS = 10


class Batcher(Generic[K]):
    """Gathers the texts asked for while the model is busy, or, while it is idle and texts come
    in close together, for at most `max_wait` seconds, and encodes them in one call of at most
    `max_batch` texts. A text asked for after a quiet spell is encoded at once (with those asked
    for in the same turn of the event loop). A text already waiting or being encoded is not
    encoded twice: its callers share one result."""

    def __init__(
        self,
        encode: Callable[[list[K]], Awaitable[NDArray[np.float32]]],
        *,
        max_batch: int,
        max_wait: float,
    ) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._waiting: dict[K, asyncio.Future[NDArray[np.float32]]] = {}
        self._running: dict[K, asyncio.Future[NDArray[np.float32]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the one all of the above are on
        self._last_asked = -math.inf  # when a text was last asked for (the loop's clock)

    async def embed(self, texts: list[K]) -> list[NDArray[np.float32]]:
        """One vector per text, in order."""
        # Shielded: a caller that gives up does not cancel a result that others share.
        return list(await asyncio.gather(*(asyncio.shield(self._future(t)) for t in texts)))

    def _future(self, text: K) -> asyncio.Future[NDArray[np.float32]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # whatever is pending belongs to a closed loop: drop it
            self._forget()
            self._loop = loop
        found = self._waiting.get(text) or self._running.get(text)
        if found is not None:
            return found
        future: asyncio.Future[NDArray[np.float32]] = loop.create_future()
        self._waiting[text] = future
        now = loop.time()
        quiet = now - self._last_asked > TRAFFIC_GAPS * self._max_wait
        self._last_asked = now
        if self._task is None:  # the model is idle: wait a little for company, not longer
            if len(self._waiting) >= self._max_batch or self._max_wait <= 0 or quiet:
                self._start()
            elif self._timer is None:
                self._timer = loop.call_later(self._max_wait, self._start)
        return future

    def _forget(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._waiting, self._running, self._timer, self._task = {}, {}, None, None
        self._last_asked = -math.inf  # another loop's clock

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None and self._waiting:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._waiting:  # what arrived while the model ran goes next, at once
                texts = list(self._waiting)[: self._max_batch]
                self._running = {t: self._waiting.pop(t) for t in texts}
                try:
                    vectors = await self._encode(texts)
                except Exception as exc:
                    for future in self._running.values():
                        if not future.done():
                            future.set_exception(exc)
                except BaseException:  # cancelled (shutdown): so are its callers
                    for future in [*self._running.values(), *self._waiting.values()]:
                        future.cancel()
                    raise
                else:
                    for text, vector in zip(texts, vectors, strict=True):
                        future = self._running[text]
                        if not future.done():
                            future.set_result(vector)
                finally:
                    self._running = {}
        finally:
            self._task = None
