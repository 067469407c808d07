"""Every frame a client sees parses: the `retry:` hint rides with the first event."""

from __future__ import annotations

import json

from httpx_sse import aconnect_sse

from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer


async def test_httpx_sse_sees_only_real_events(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 3
    async with aconnect_sse(
        server.client, "POST", "/v1/bots/vinhuset/messages", json={"message": "Hei"}
    ) as source:
        events = [e async for e in source.aiter_sse()]
    first = events[0]
    assert (first.event, first.id, first.retry) == ("stream.started", "1", 2000)
    assert [json.loads(e.data)["type"] for e in events] == [e.event for e in events]
    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
    assert events[-1].event == "stream.completed"
    # A reader resuming after the last event gets nothing and no phantom either.
    async with aconnect_sse(
        server.client,
        "GET",
        f"/v1/streams/{json.loads(first.data)['stream_id']}/events",
        params={"after": 2},
    ) as resumed:
        again = [e async for e in resumed.aiter_sse()]
    assert [e.id for e in again] == [e.id for e in events[2:]]
    assert again[0].retry == 2000
