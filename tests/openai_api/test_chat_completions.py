"""The OpenAI-compatible endpoint, with the official `openai` SDK as the client."""

from __future__ import annotations

import openai
import pytest
from sqlalchemy import select

from chinwag.auth.keys import create_key
from chinwag.conversations.models import ChatSession, Message
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer


async def _client(server: RunningServer) -> openai.AsyncOpenAI:
    async with server.db.write() as conn:
        key = await create_key(conn, kind="secret", name="sdk", bot_id="vinhuset")
    return openai.AsyncOpenAI(api_key=key.key, base_url=f"{server.base_url}/v1", max_retries=0)


async def test_models_and_a_completion_with_history(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    client = await _client(server)
    models = await client.models.list()
    assert [m.id for m in models.data] == ["vinhuset"]
    raw = await client.chat.completions.with_raw_response.create(
        model="vinhuset",
        messages=[
            {"role": "system", "content": "ignored: the bot has its own"},
            {"role": "user", "content": "Hei"},
            {"role": "assistant", "content": "Hei! Hva leter du etter?"},
            {"role": "user", "content": "Rødvin til lam"},
        ],
    )
    completion = raw.parse()
    answer = "".join(fake_llm.behaviour.token(i) for i in range(3))
    assert completion.choices[0].message.content == answer
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    prompt = fake_llm.requests[-1]["messages"]
    assert [m["content"] for m in prompt[1:]] == [
        "Hei",
        "Hei! Hva leter du etter?",
        "Rødvin til lam",
    ]
    session_id = raw.headers["x-chinwag-session-id"]
    # Logged like any other conversation: 2 seeded turns, the question and the answer.
    async with server.db.read() as conn:
        rows = (
            await conn.execute(
                select(Message.role, Message.content, Message.status)
                .join(ChatSession, ChatSession.id == Message.session_id)
                .where(ChatSession.external_id == session_id)
                .order_by(Message.position)
            )
        ).all()
    assert [(r.role, r.status) for r in rows] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert rows[-1].content == answer
    # The header continues the session: its stored history is the context.
    await client.chat.completions.create(
        model="vinhuset",
        messages=[{"role": "user", "content": "Og hvitvin?"}],
        extra_headers={"X-Chinwag-Session-Id": session_id},
    )
    assert [m["content"] for m in fake_llm.requests[-1]["messages"][1:]] == [
        "Hei",
        "Hei! Hva leter du etter?",
        "Rødvin til lam",
        answer,
        "Og hvitvin?",
    ]


async def test_streaming_in_chunks_with_usage_at_the_end(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 4
    client = await _client(server)
    stream = await client.chat.completions.create(
        model="vinhuset",
        messages=[{"role": "user", "content": "Hei"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(fake_llm.behaviour.token(i) for i in range(4))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_errors_reach_the_sdk_as_its_exceptions(server: RunningServer) -> None:
    client = await _client(server)
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "Hei"}]
        )
    with pytest.raises(openai.UnprocessableEntityError):
        await client.chat.completions.create(
            model="vinhuset", messages=[{"role": "assistant", "content": "Hei"}]
        )
    bad = openai.AsyncOpenAI(api_key="cw_sk_wrong", base_url=client.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await bad.models.list()


async def test_errors_come_in_openai_shape_so_the_sdk_shows_them(server: RunningServer) -> None:
    client = await _client(server)
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(
            model="no-such-bot", messages=[{"role": "user", "content": "Hei"}]
        )
    assert missing.value.code == "not_found"
    assert "no-such-bot" in missing.value.message
    assert missing.value.response.headers["content-type"] == "application/json"
    body = missing.value.response.json()["error"]
    assert body["type"] == "not_found_error" and body["hint"]

    bad_key = openai.AsyncOpenAI(
        api_key="cw_sk_wrong", base_url=f"{server.base_url}/v1", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as refused:
        await bad_key.models.list()
    assert refused.value.code and refused.value.type == "authentication_error"

    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        await client.chat.completions.create(model="vinhuset", messages=[])
    assert invalid.value.code == "invalid_request"
    # Every other endpoint keeps problem+json.
    other = await server.client.get("/v1/bots/no-such-bot")
    assert other.headers["content-type"] == "application/problem+json"


async def test_an_answer_that_fails_is_a_502_that_names_the_llm_error(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.fail_status = 401  # the LLM refuses chinwag's key: not retried
    client = await _client(server)
    with pytest.raises(openai.APIStatusError) as failed:
        await client.chat.completions.create(
            model="vinhuset", messages=[{"role": "user", "content": "Hei"}]
        )
    assert failed.value.status_code == 502 and failed.value.code == "generation_failed"
    body = failed.value.response.json()["error"]
    assert body["error_code"] == "llm_auth_failed" and body["error_hint"] and body["hint"]
    async with server.db.read() as conn:
        statuses = (await conn.execute(select(Message.role, Message.status))).all()
    assert sorted(statuses) == [("assistant", "failed"), ("user", "complete")]


async def test_a_failure_mid_stream_raises_in_the_sdk_after_the_text_so_far(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    """The LLM breaks off after two tokens: the official SDK's stream yields them, then raises
    APIError with chinwag's code, message and hint, instead of ending as if the answer were
    whole (the status was 200 long before: it is a chunk with an `error` key)."""
    fake_llm.behaviour.tokens = 8
    fake_llm.behaviour.break_after = 2
    client = await _client(server)
    stream = await client.chat.completions.create(
        model="vinhuset", messages=[{"role": "user", "content": "Hei"}], stream=True
    )
    chunks = []
    with pytest.raises(openai.APIError) as failed:
        async for chunk in stream:
            chunks.append(chunk)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(fake_llm.behaviour.token(i) for i in range(2))
    error = failed.value
    assert type(error) is openai.APIError  # not an HTTP status error: it came mid-stream
    assert error.code == "generation_failed" and error.type == "server_error"
    assert isinstance(error.body, dict)
    assert error.body["error_code"] == "llm_stream_broken" and error.body["error_hint"]
    assert error.message.startswith(f"the LLM stream from {fake_llm.base_url}")
    assert "broke off" in error.message
    async with server.db.read() as conn:
        statuses = (await conn.execute(select(Message.role, Message.status))).all()
    assert sorted(statuses) == [("assistant", "failed"), ("user", "complete")]
