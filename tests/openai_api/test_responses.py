"""The OpenAI Responses API, the bot as the model, driven by the official `openai` SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from sqlalchemy import select

from chinwag.conversations.models import Message, OpenAIResponse
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer
from tests.openai_api.test_chat_completions import _client


def _answer(fake_llm: FakeLLM, tokens: int) -> str:
    return "".join(fake_llm.behaviour.token(i) for i in range(tokens))


async def test_a_response_is_created_and_retrieved(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    client = await _client(server)
    response = await client.responses.create(
        model="vinhuset",
        input="Rødvin til lam?",
        instructions="Be brief.",
        metadata={"order": "42"},
        max_output_tokens=50,
        temperature=0.4,
    )
    assert response.status == "completed" and response.object == "response"
    assert response.output_text == _answer(fake_llm, 3)
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (5, 3)
    assert response.model_extra is not None and response.model_extra["declined"] is None
    sent = fake_llm.requests[-1]
    assert (sent["max_tokens"], sent["temperature"]) == (50, 0.4)
    assert sent["messages"][-1]["content"] == "Rødvin til lam?"
    again = await client.responses.retrieve(response.id)
    assert again.output_text == response.output_text and again.status == "completed"
    assert again.created_at == response.created_at
    assert (again.instructions, again.metadata) == ("Be brief.", {"order": "42"})
    assert again.usage is not None and again.usage.total_tokens == 8
    async with server.db.read() as conn:
        rows = (await conn.execute(select(OpenAIResponse.message_id))).scalars().all()
    assert rows == [response.id.removeprefix("resp_")]


async def test_streaming_sends_the_typed_events_in_order(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    client = await _client(server)
    stream = await client.responses.create(model="vinhuset", input="Hei", stream=True)
    events = [e async for e in stream]
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    completed = events[-1]
    assert completed.type == "response.completed"
    assert deltas == _answer(fake_llm, 3) == completed.response.output_text
    assert completed.response.usage is not None and completed.response.usage.output_tokens == 3


async def test_an_answer_cut_at_max_output_tokens_is_incomplete(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 6
    client = await _client(server)
    cut = await client.responses.create(model="vinhuset", input="Hei", max_output_tokens=2)
    assert cut.status == "incomplete" and cut.incomplete_details is not None
    assert cut.incomplete_details.reason == "max_output_tokens"
    assert cut.output_text == _answer(fake_llm, 2)
    assert (await client.responses.retrieve(cut.id)).status == "incomplete"
    stream = await client.responses.create(
        model="vinhuset", input="Hei", max_output_tokens=2, stream=True
    )
    events = [e async for e in stream]
    assert events[-1].type == "response.incomplete"
    assert events[-2].type == "response.output_item.done"
    assert events[-2].item.status == "incomplete"


async def test_a_failure_ends_the_stream_with_response_failed(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 8
    fake_llm.behaviour.break_after = 2
    client = await _client(server)
    stream = await client.responses.create(model="vinhuset", input="Hei", stream=True)
    events = [e async for e in stream]
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error is not None
    assert failed.response.error.code == "llm_stream_broken"
    assert failed.response.output_text == _answer(fake_llm, 2)
    stored = await client.responses.retrieve(failed.response.id)
    assert stored.status == "failed" and stored.error is not None
    assert stored.error.code == "llm_stream_broken" and "LLM" in stored.error.message


async def test_input_items_are_the_history_and_previous_response_id_continues(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 2
    client = await _client(server)
    first = await client.responses.create(
        model="vinhuset",
        user="alice",
        input=[
            {"role": "developer", "content": "ignored: the bot has its own"},
            {"role": "user", "content": "Hei"},
            {"role": "assistant", "content": "Hei! Hva leter du etter?"},
            {"role": "user", "content": [{"type": "input_text", "text": "Rødvin"}]},
        ],
    )
    assert [m["content"] for m in fake_llm.requests[-1]["messages"][1:]] == [
        "Hei",
        "Hei! Hva leter du etter?",
        "Rødvin",
    ]
    second = await client.responses.create(
        model="vinhuset", input="Og hvitvin?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id and second.user == "alice"
    assert [m["content"] for m in fake_llm.requests[-1]["messages"][1:]] == [
        "Hei",
        "Hei! Hva leter du etter?",
        "Rødvin",
        first.output_text,
        "Og hvitvin?",
    ]
    # Another end user never continues alice's conversation, nor learns that it exists.
    with pytest.raises(openai.NotFoundError) as foreign:
        await client.responses.create(
            model="vinhuset", input="Hei", previous_response_id=first.id, user="bob"
        )
    assert foreign.value.code == "response_not_found"
    assert foreign.value.param == "previous_response_id"


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tools": [{"type": "function", "name": "f", "parameters": {}}]}, "tools"),
        ({"text": {"format": {"type": "json_object"}}}, "text"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        (
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "What is this?"},
                            {"type": "input_image", "image_url": "https://x.example/a.png"},
                        ],
                    }
                ]
            },
            "input[0].content[1]",
        ),
        ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input[0]"),
    ],
)
async def test_what_cannot_be_honoured_is_refused_by_name(
    server: RunningServer, fake_llm: FakeLLM, extra: dict[str, Any], param: str
) -> None:
    client = await _client(server)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.responses.create(**{"model": "vinhuset", "input": "Hei", **extra})
    assert refused.value.code == "unsupported_parameter" and refused.value.param == param
    assert fake_llm.requests == []
    with pytest.raises(openai.NotFoundError) as missing:
        await client.responses.create(model="nope", input="Hei")
    assert missing.value.param == "model"
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve("resp_nope")


async def test_a_background_response_resumes_from_the_log_after_a_sequence_number(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 6
    fake_llm.behaviour.token_delay = 0.05
    client = await _client(server)
    started = await client.responses.create(model="vinhuset", input="Hei", background=True)
    assert started.status == "in_progress" and started.background is True
    stream = await client.responses.retrieve(started.id, stream=True, starting_after=4)
    events = [e async for e in stream]
    assert [e.sequence_number for e in events] == list(range(5, 5 + len(events)))
    assert events[-1].type == "response.completed"
    whole = [e async for e in await client.responses.retrieve(started.id, stream=True)]
    assert whole[5:] == events  # every later event once, the same as live
    assert "".join(e.delta for e in whole if e.type == "response.output_text.delta") == (
        _answer(fake_llm, 6)
    )
    done = await client.responses.retrieve(started.id)
    assert done.status == "completed" and done.output_text == _answer(fake_llm, 6)


async def test_a_background_response_is_cancelled_with_its_text_so_far(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 200
    fake_llm.behaviour.token_delay = 0.05
    client = await _client(server)
    started = await client.responses.create(model="vinhuset", input="Hei", background=True)
    stream = await client.responses.retrieve(started.id, stream=True)
    async for event in stream:
        if event.type == "response.output_text.delta":
            break
    cancelled = await client.responses.cancel(started.id)
    assert cancelled.status == "cancelled" and cancelled.error is None
    async with server.db.read() as conn:
        status, content = (
            await conn.execute(
                select(Message.status, Message.content).where(
                    Message.id == started.id.removeprefix("resp_")
                )
            )
        ).one()
    assert status == "interrupted" and content and len(content) < len(_answer(fake_llm, 200))
    with pytest.raises(openai.BadRequestError) as foreground:
        done = await client.responses.create(model="vinhuset", input="Hei", max_output_tokens=1)
        await client.responses.cancel(done.id)
    assert foreground.value.code == "response_not_cancellable"


async def test_a_response_not_stored_is_not_shown_nor_continued(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    client = await _client(server)
    unstored = await client.responses.create(model="vinhuset", input="Hei", store=False)
    assert unstored.status == "completed" and unstored.store is False
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(unstored.id)
    with pytest.raises(openai.NotFoundError) as continued:
        await client.responses.create(
            model="vinhuset", input="Og?", previous_response_id=unstored.id
        )
    assert continued.value.param == "previous_response_id"
    with pytest.raises(openai.UnprocessableEntityError) as background:
        await client.responses.create(model="vinhuset", input="Hei", store=False, background=True)
    assert background.value.param == "store"
