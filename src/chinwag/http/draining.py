"""A worker's way out on SIGTERM (or Ctrl-C): drain, then let the HTTP server stop.

Draining refuses new messages and new readers of streams written elsewhere (503
`server_draining` with Retry-After), tells `/readyz` to answer 503, closes the readers of
streams written elsewhere (their SSE response ends without `stream.completed`, the `retry:`
hint came with its first event, so clients reconnect, through the load balancer, to another
worker), and
gives the running generations `CHINWAG_SHUTDOWN_GRACE_SECONDS` to finish before ending the rest
`interrupted`. Only then is the signal handed to the HTTP server, which closes its listening
socket and the connections that are left. A second signal stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType

from chinwag.errors import ServerDraining
from chinwag.generations.service import Generations
from chinwag.streams.sse import FrameSource

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drain:
    def __init__(self, generations: Generations, *, grace_seconds: float, retry_ms: int) -> None:
        self.generations = generations
        self.grace_seconds = grace_seconds
        self.retry_after = max(1, math.ceil(retry_ms / 1000))
        self._readers: weakref.WeakSet[FrameSource] = weakref.WeakSet()
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    def watch(self, reader: FrameSource) -> FrameSource:
        """A reader of a stream written by another worker: closed when draining starts, and
        refused once it has."""
        if self.started:
            reader.close()
            raise ServerDraining(
                "this server is shutting down; follow the stream on another server",
                retry_after=self.retry_after,
            )
        self._readers.add(reader)
        return reader

    def start(self, then: Callable[[], None] = lambda: None) -> None:
        """Begin draining (once); call `then` when the generations have finished or ended."""
        if self._task is not None:
            return
        log.warning(
            "shutting down: no new messages; %d answer(s) get %.0f s to finish",
            self.generations.running,
            self.grace_seconds,
        )
        self.generations.stop_accepting(retry_after=self.retry_after)
        for reader in list(self._readers):
            reader.close()
        self._task = asyncio.create_task(self._finish(then), name="chinwag-drain")

    async def _finish(self, then: Callable[[], None]) -> None:
        try:
            await self.generations.shutdown(self.grace_seconds)
        finally:
            then()

    async def wait(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def on_signals(self) -> Callable[[], None]:
        """Put draining in front of the signal handlers in place (the HTTP server's); returns
        the undo. Only the main thread may handle signals: elsewhere this does nothing."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = asyncio.get_running_loop()
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}

        def hand_on(sig: int, frame: FrameType | None) -> None:
            handler = previous[signal.Signals(sig)]
            if callable(handler):
                handler(sig, frame)
            elif handler == signal.SIG_DFL:
                signal.signal(sig, signal.SIG_DFL)
                signal.raise_signal(sig)

        def on_signal(sig: int, frame: FrameType | None) -> None:
            if self.started:  # a second signal: stop now
                hand_on(sig, frame)
                return
            loop.call_soon_threadsafe(self.start, lambda: hand_on(sig, frame))

        for sig in SIGNALS:
            signal.signal(sig, on_signal)

        def undo() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return undo
