"""Wake this worker's handoff jobs (the outbox, the ticket sweep) when a conversation starts
waiting, so they need not look in the database every second to be quick.

Each job looks when woken, when its next row is due (a retry, a claim timeout), and at the
latest every LOOK_SECONDS, which is how soon a job on another worker notices what this one
wrote and then died before handling."""

from __future__ import annotations

import asyncio
import contextlib

LOOK_SECONDS = 10.0
_jobs: set[asyncio.Event] = set()


def wake_handoff_jobs() -> None:
    """A conversation started waiting (committed): every handoff job of this process looks."""
    for event in list(_jobs):
        event.set()


class Wakeup:
    """One job's alarm: `nap` until woken or `seconds` have passed."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        _jobs.add(self._event)

    async def nap(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(seconds, LOOK_SECONDS))):
                await self._event.wait()
        self._event.clear()

    def close(self) -> None:
        _jobs.discard(self._event)
