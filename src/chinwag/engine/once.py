"""What a bot version learns once per process (routing examples, scope, table rows): computed
at most once per key, however many messages ask for it at the same time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class OncePerKey(Generic[K, V]):
    """The value of each key, made by the first caller; the others wait for it."""

    def __init__(self) -> None:
        self._made: dict[K, V] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    async def get(self, key: K, make: Callable[[], Awaitable[V]]) -> V:
        if key in self._made:
            return self._made[key]
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._made:
                self._made[key] = await make()
            self._locks.pop(key, None)
        return self._made[key]
