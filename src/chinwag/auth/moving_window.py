"""An exact moving window in this process's memory: every hit's time, per key.

`limits` has a moving-window strategy, but its in-memory storage, after each hit, re-scans
every key it holds, each in a thread of its own: with a new end user per answer and a tool call
in each, that sweep cost the demo bot ~2 ms of CPU per answer at 31 answers a second. Here a
key's old hits are dropped when the key is used, and keys nobody used for a while once a
minute. With Redis, `limits`' own moving window is used (one script per hit).
"""

from __future__ import annotations

import time
from collections import deque

from limits import RateLimitItem
from limits.util import WindowStats

SWEEP_SECONDS = 60.0  # how often keys whose hits have all expired are forgotten


class MemoryMovingWindow:
    """The `limits` strategy interface (hit, test, get_window_stats) for exact counts."""

    def __init__(self) -> None:
        self._hits: dict[str, tuple[float, deque[float]]] = {}  # key -> (period, hit times)
        self._swept = time.monotonic()

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Count `cost` hits now, unless that would exceed the item's amount in its period."""
        now = time.time()
        hits = self._recent(item, identifiers, now)
        if len(hits) + cost > item.amount:
            return False
        hits.extend([now] * cost)
        return True

    async def test(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        """Whether `cost` hits would be allowed now (nothing counted)."""
        return len(self._recent(item, identifiers, time.time())) + cost <= item.amount

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """When the oldest hit in the window leaves it, and how many hits are left."""
        now = time.time()
        hits = self._recent(item, identifiers, now)
        reset = hits[0] + item.get_expiry() if hits else now
        return WindowStats(reset, max(0, item.amount - len(hits)))

    def _recent(
        self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
    ) -> deque[float]:
        self._sweep()
        key = item.key_for(*identifiers)
        period = float(item.get_expiry())
        _, hits = self._hits.setdefault(key, (period, deque()))
        while hits and hits[0] <= now - period:
            hits.popleft()
        return hits

    def _sweep(self) -> None:
        if time.monotonic() - self._swept < SWEEP_SECONDS:
            return
        self._swept = time.monotonic()
        now = time.time()
        for key, (period, hits) in list(self._hits.items()):
            if not hits or hits[-1] <= now - period:
                del self._hits[key]
