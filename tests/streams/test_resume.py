"""A stream can be followed from any seq, live or finished, and survives client disconnects."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, update

from chinwag.db.base import utcnow
from chinwag.settings import Settings
from chinwag.streams.models import LoggedEvent, Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server
from tests.helpers import accept, wait_finished
from tests.sse_client import SSEEvent, iter_events, read_all


async def _follow(
    server: RunningServer,
    stream_id: str,
    *,
    last_event_id: int | None = None,
    after: int | None = None,
) -> list[SSEEvent]:
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    params = {"after": after} if after is not None else {}
    async with server.client.stream(
        "GET", f"/v1/streams/{stream_id}/events", headers=headers, params=params
    ) as response:
        assert response.status_code == 200
        return await read_all(response)


async def test_client_disconnect_after_third_event_does_not_change_the_answer(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 12
    fake_llm.behaviour.token_delay = 0.02
    undisturbed = (await accept(server.client, {"message": "Which wine with salmon?"})).json()
    reference = await wait_finished(server.client, undisturbed["assistant_message_id"])

    seen = []
    async with server.client.stream(
        "POST", "/v1/bots/vinhuset/messages", json={"message": "Which wine with salmon?"}
    ) as response:
        async for event in iter_events(response):
            seen.append(event)
            if len(seen) == 3:
                break  # the browser tab closes
    message_id = seen[0].data["message_id"]
    disturbed = await wait_finished(server.client, message_id)
    assert disturbed["status"] == "complete"
    assert disturbed["content"] == reference["content"]
    assert len(disturbed["content"]) > 0


async def test_resume_from_every_last_event_id_of_a_finished_stream(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 6
    out = (await accept(server.client, {"message": "Are you open on Sunday?"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    full = await _follow(server, out["stream_id"])
    assert [e.id for e in full] == list(range(1, len(full) + 1))
    assert full[-1].type == "stream.completed"
    for n in range(len(full) + 1):
        rest = await _follow(server, out["stream_id"], last_event_id=n)
        assert full[:n] + rest == full, f"resume after {n}"
        assert await _follow(server, out["stream_id"], after=n) == rest


async def test_resume_from_every_last_event_id_of_a_live_stream(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 10
    fake_llm.behaviour.token_delay = 0.05
    out = (await accept(server.client, {"message": "Tell me about Riesling"})).json()
    stream_id = out["stream_id"]
    resumed: dict[int, asyncio.Task[list[SSEEvent]]] = {}
    full: list[SSEEvent] = []
    async with server.client.stream("GET", f"/v1/streams/{stream_id}/events") as response:
        async for event in iter_events(response):
            full.append(event)
            # Reconnect from here while the stream is still being written.
            resumed[event.id] = asyncio.create_task(
                _follow(server, stream_id, last_event_id=event.id)
            )
    resumed[0] = asyncio.create_task(_follow(server, stream_id, last_event_id=0))
    assert full[-1].type == "stream.completed"
    assert [e.id for e in full] == list(range(1, len(full) + 1))
    for n, task in sorted(resumed.items()):
        assert full[:n] + await task == full, f"live resume after {n}"


async def test_unknown_stream_is_404_and_purged_events_are_410(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    missing = await server.client.get("/v1/streams/no-such-stream/events")
    assert missing.status_code == 404
    assert missing.json()["code"] == "stream_not_found"

    out = (await accept(server.client, {"message": "hello"})).json()
    await wait_finished(server.client, out["assistant_message_id"])
    async with server.db.write() as conn:  # what retention does
        await conn.execute(delete(LoggedEvent).where(LoggedEvent.stream_id == out["stream_id"]))
        await conn.execute(
            update(Stream).where(Stream.id == out["stream_id"]).values(events_purged_at=utcnow())
        )
    gone = await server.client.get(f"/v1/streams/{out['stream_id']}/events")
    assert gone.status_code == 410
    problem = gone.json()
    assert problem["code"] == "stream_events_purged"
    assert f"/v1/messages/{out['assistant_message_id']}" in problem["hint"]
    message = await server.client.get(f"/v1/messages/{out['assistant_message_id']}")
    assert message.json()["status"] == "complete"


async def test_bad_last_event_id_is_a_clear_422(server: RunningServer) -> None:
    out = (await accept(server.client, {"message": "hello"})).json()
    response = await server.client.get(
        f"/v1/streams/{out['stream_id']}/events", headers={"Last-Event-ID": "abc"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


async def test_sse_framing_has_retry_and_heartbeat(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    # A first token that takes longer than the heartbeat interval: a comment keeps it open.
    fake_llm.behaviour.first_token_delay = 0.7
    fake_llm.behaviour.tokens = 2
    settings = make_settings.model_copy(update={"sse_heartbeat_seconds": 0.2})
    async with (
        run_server(settings) as server,
        server.client.stream(
            "POST", "/v1/bots/vinhuset/messages", json={"message": "slow"}
        ) as response,
    ):
        raw = (await response.aread()).decode()
    assert raw.startswith("retry: ")
    # About one per 0.2 s of the 0.7 s wait (more on a stalled machine), never a runaway timer.
    assert 2 <= raw.count(": keep-alive") <= 12, raw
    assert "id: 1\nevent: stream.started\ndata: {" in raw
