"""The in-memory moving window that counts an end user's tool calls: exact counts, the time
the oldest hit leaves the window, and keys forgotten once their hits have expired."""

from __future__ import annotations

import asyncio
import time

import pytest
from limits import parse

from chinwag.auth import moving_window
from chinwag.auth.moving_window import MemoryMovingWindow


async def test_counts_every_hit_in_the_window_and_says_when_one_leaves_it() -> None:
    window, item = MemoryMovingWindow(), parse("2 per 1 second")
    first = time.time()
    assert await window.hit(item, "bot", "kari") and await window.hit(item, "bot", "kari")
    assert not await window.test(item, "bot", "kari")
    assert not await window.hit(item, "bot", "kari")  # refused, and not counted
    assert await window.hit(item, "bot", "ola")  # another person's own window
    stats = await window.get_window_stats(item, "bot", "kari")
    assert stats.remaining == 0 and first <= stats.reset_time <= time.time() + 1
    await asyncio.sleep(max(0.0, stats.reset_time - time.time()) + 0.02)
    assert await window.hit(item, "bot", "kari")


async def test_keys_whose_hits_expired_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moving_window, "SWEEP_SECONDS", 0.0)
    window, item = MemoryMovingWindow(), parse("5 per 1 second")
    for user in range(100):
        await window.hit(item, "bot", f"visitor-{user}")
    await asyncio.sleep(1.05)
    await window.hit(item, "bot", "kari")
    stats = [await window.get_window_stats(item, "bot", f"visitor-{u}") for u in range(3)]
    assert [s.remaining for s in stats] == [5, 5, 5]
    assert len(window._hits) <= 4  # kari and the three just asked about, not 101 keys
