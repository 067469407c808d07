"""A small SSE reader for tests: parses frames exactly as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class SSEEvent:
    id: int | None  # None: an ephemeral event, outside the log (e.g. `typing`)
    type: str
    data: dict[str, Any]


async def iter_events(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Yield each event of an SSE response; comments and `retry:` lines are skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                yield SSEEvent(
                    int(fields["id"]) if "id" in fields else None,
                    fields.get("event", "message"),
                    json.loads(fields["data"]),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value


async def read_all(response: httpx.Response) -> list[SSEEvent]:
    return [e async for e in iter_events(response)]
