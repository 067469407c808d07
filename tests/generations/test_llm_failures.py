"""When the LLM fails, the stream says so with a stable code and hint; nothing is half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from chinwag.operations.doctor import run_checks
from chinwag.streams.models import Stream
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, free_port, run_server
from tests.helpers import ask
from tests.sse_client import SSEEvent

BAROLO = "Which Barolo do you have?"


async def _assert_failed(
    server: RunningServer, events: list[SSEEvent], code: str, text: str = ""
) -> None:
    assert [e.type for e in events[-2:]] == ["error", "stream.completed"]
    error = events[-2].data
    assert error["code"] == code
    assert error["message"] and error["hint"]
    assert events[-1].data["status"] == "failed"
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    message = (await server.client.get(f"/v1/messages/{events[0].data['message_id']}")).json()
    assert message["status"] == "failed"
    assert message["error_code"] == code
    assert message["content"] == text
    async with server.db.read() as conn:
        assert (await conn.execute(select(Stream.status))).scalar_one() == "failed"
    assert all(c.ok for c in await run_checks(server.db, heartbeat_seconds=0.5))


async def test_unauthorized_key(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.api_key = "the-right-key"
    await _assert_failed(server, await ask(server.client, BAROLO), "llm_auth_failed")


async def test_unknown_model(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.known_models = {"another-model"}
    events = await ask(server.client, BAROLO)
    await _assert_failed(server, events, "llm_model_not_found")
    assert "fake-model" in events[-2].data["message"]


async def test_stream_breaks_halfway_keeps_text_so_far(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 10
    fake_llm.behaviour.break_after = 3
    events = await ask(server.client, BAROLO)
    deltas = [e.data["text"] for e in events if e.type == "message.delta"]
    assert len(deltas) == 3
    await _assert_failed(server, events, "llm_stream_broken", "".join(deltas))


async def test_an_llm_gone_silent_mid_answer_ends_it_as_a_timeout_with_the_text_so_far(
    make_settings,  # type: ignore[no-untyped-def]
    fake_llm: FakeLLM,
) -> None:
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 3, 30.0
    async with run_server(make_settings.model_copy(update={"llm_timeout_seconds": 0.5})) as server:
        events = await ask(server.client, BAROLO)
        deltas = [e.data["text"] for e in events if e.type == "message.delta"]
        assert deltas == [fake_llm.behaviour.token(0)]
        await _assert_failed(server, events, "llm_timeout", deltas[0])
        assert "CHINWAG_LLM_TIMEOUT_SECONDS" in events[-2].data["hint"]


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error(server: RunningServer, fake_llm: FakeLLM, status: int) -> None:
    fake_llm.behaviour.fail_status = status
    await _assert_failed(server, await ask(server.client, BAROLO), "llm_error")


async def test_unreachable_llm(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings.model_copy(
        update={"llm_base_url": f"http://127.0.0.1:{free_port()}/v1"}
    )
    async with run_server(settings) as server:
        events = await ask(server.client, BAROLO)
        await _assert_failed(server, events, "llm_unreachable")
        assert "127.0.0.1" in events[-2].data["message"]
        assert events[-2].data["retryable"] is True


async def test_unknown_bot_and_bad_bodies_are_problem_json(server: RunningServer) -> None:
    missing = await server.client.post("/v1/bots/nope/messages", json={"message": "hi"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["code"] == "bot_not_found"
    empty = await server.client.post("/v1/bots/vinhuset/messages", json={"message": ""})
    assert empty.status_code == 422
    assert empty.json()["code"] == "invalid_request"
    assert empty.json()["errors"][0]["path"] == "body.message"
    extra = await server.client.post(
        "/v1/bots/vinhuset/messages", json={"message": "hi", "colour": "red"}
    )
    assert extra.status_code == 422


async def test_session_of_another_user_is_409(server: RunningServer) -> None:
    first = await server.client.post(
        "/v1/bots/vinhuset/messages",
        json={"message": "hi", "user_id": "a", "session_id": "s"},
        headers={"accept": "application/json"},
    )
    assert first.status_code == 202
    other = await server.client.post(
        "/v1/bots/vinhuset/messages",
        json={"message": "hi", "user_id": "b", "session_id": "s"},
        headers={"accept": "application/json"},
    )
    assert other.status_code == 409
    assert other.json()["code"] == "session_user_mismatch"
