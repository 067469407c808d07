"""A background response outlives its reader, and resumes on another server from the durable
event log: every later event once, numbered as the first reader saw them."""

from __future__ import annotations

import asyncio

import pytest

from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server
from tests.openai_api.test_chat_completions import _client


async def test_a_response_keeps_running_when_its_reader_goes_away(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 20
    fake_llm.behaviour.token_delay = 0.02
    client = await _client(server)
    stream = await client.responses.create(
        model="vinhuset", input="Hei", stream=True, background=True
    )
    seen = []
    async for event in stream:
        seen.append(event)
        if event.type == "response.output_text.delta":
            break
    await stream.close()
    response_id = seen[0].response.id
    for _ in range(200):
        done = await client.responses.retrieve(response_id)
        if done.status != "in_progress":
            break
        await asyncio.sleep(0.05)
    assert done.status == "completed"
    assert done.output_text == "".join(fake_llm.behaviour.token(i) for i in range(20))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_another_server_resumes_a_background_response(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 30
    fake_llm.behaviour.token_delay = 0.02
    async with run_server(make_settings) as a, run_server(make_settings, seed_demo=False) as b:
        on_a = await _client(a)
        on_b = on_a.with_options(base_url=f"{b.base_url}/v1")
        started = await on_a.responses.create(model="vinhuset", input="Hei", background=True)
        resumed = [
            e
            async for e in await on_b.responses.retrieve(started.id, stream=True, starting_after=3)
        ]
        whole = [e async for e in await on_a.responses.retrieve(started.id, stream=True)]
    assert resumed == whole[4:]
    assert [e.sequence_number for e in whole] == list(range(len(whole)))
    assert whole[-1].type == "response.completed"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_another_server_cancels_a_background_response(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 400
    fake_llm.behaviour.token_delay = 0.02
    async with run_server(make_settings) as a, run_server(make_settings, seed_demo=False) as b:
        on_a = await _client(a)
        on_b = on_a.with_options(base_url=f"{b.base_url}/v1")
        started = await on_a.responses.create(model="vinhuset", input="Hei", background=True)
        live = await on_a.responses.retrieve(started.id, stream=True)
        async for event in live:
            if event.type == "response.output_text.delta" and event.sequence_number > 8:
                break
        cancelled = await on_b.responses.cancel(started.id)
        assert cancelled.status == "cancelled"
        # The writer noticed: its reader gets the end, and it stops asking the LLM for more.
        rest = [e async for e in live]
        assert rest[-1].type == "response.failed"
        assert rest[-1].response.status == "cancelled"
        text = cancelled.output_text
        assert text and len(text) < len("".join(fake_llm.behaviour.token(i) for i in range(400)))
        assert (await on_a.responses.retrieve(started.id)).output_text == text
