"""Chat Completions without surprises: parameters reach the bot's LLM or are refused by name,
usage comes once, errors say their cause, and a stateless client stays in its session."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from sqlalchemy import func, select

from chinwag.config.llm import LLMConfig
from chinwag.conversations.models import ChatSession
from chinwag.providers.protocols import GenerationOptions, Sampling
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.openai_api.test_chat_completions import _client

HEI = [{"role": "user", "content": "Hei"}]


async def test_usage_comes_once_on_the_last_chunk_only_when_asked(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 4
    client = await _client(server)
    stream = await client.chat.completions.create(
        model="vinhuset", messages=HEI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert [c for c in chunks[:-1] if c.usage is not None] == []
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 4)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-2].model_extra == {"declined": None}  # chinwag's extension field

    plain = await client.chat.completions.create(model="vinhuset", messages=HEI, stream=True)
    assert [c.usage async for c in plain] == [None] * 6  # role, 4 tokens, finish


async def test_langchain_stream_usage_is_counted_once(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    from langchain_openai import ChatOpenAI

    fake_llm.behaviour.tokens = 4
    client = await _client(server)
    chat = ChatOpenAI(
        model="vinhuset",
        api_key=client.api_key,
        base_url=str(client.base_url),
        stream_usage=True,
        max_retries=0,
    )
    total: Any = None
    async for piece in chat.astream("Hei"):
        total = piece if total is None else total + piece
    assert total.usage_metadata["input_tokens"] == 5
    assert total.usage_metadata["output_tokens"] == 4
    assert total.usage_metadata["total_tokens"] == 9


async def test_sampling_parameters_reach_the_llm(server: RunningServer, fake_llm: FakeLLM) -> None:
    fake_llm.behaviour.tokens = 8
    client = await _client(server)
    completion = await client.chat.completions.create(
        model="vinhuset",
        messages=HEI,
        max_tokens=5,
        temperature=0.3,
        top_p=0.5,
        stop=["STOP"],
        seed=7,
    )
    sent = fake_llm.requests[-1]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"]) == (5, 0.3, 0.5)
    assert (sent["stop"], sent["seed"]) == (["STOP"], 7)
    assert completion.usage is not None and completion.usage.completion_tokens == 5
    assert completion.choices[0].finish_reason == "length"  # cut at the caller's max_tokens
    assert completion.choices[0].message.content == "".join(
        fake_llm.behaviour.token(i) for i in range(5)
    )
    await client.chat.completions.create(
        model="vinhuset", messages=HEI, max_completion_tokens=3, stop="x"
    )
    assert (fake_llm.requests[-1]["max_tokens"], fake_llm.requests[-1]["stop"]) == (3, ["x"])
    stream = await client.chat.completions.create(
        model="vinhuset", messages=HEI, max_tokens=2, stream=True
    )
    finishes = [c.choices[0].finish_reason async for c in stream if c.choices]
    assert finishes[-1] == "length"
    whole = await client.chat.completions.create(model="vinhuset", messages=HEI, max_tokens=9)
    assert whole.choices[0].finish_reason == "stop"  # 8 tokens: it ended by itself


async def test_max_tokens_stays_within_the_bot_s_own(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    bot = plain_demo_bot()
    llm = (bot.llm or LLMConfig()).model_copy(update={"max_tokens": 4})
    async with run_server(make_settings, bot=bot.model_copy(update={"llm": llm})) as server:
        client = await _client(server)
        await client.chat.completions.create(model="vinhuset", messages=HEI, max_tokens=50)
        assert fake_llm.requests[-1]["max_tokens"] == 4
        await client.chat.completions.create(model="vinhuset", messages=HEI, max_tokens=2)
        assert fake_llm.requests[-1]["max_tokens"] == 2


def test_sampling_keeps_the_bot_s_settings_it_does_not_name() -> None:
    bot = GenerationOptions(temperature=0.2, max_tokens=100)
    assert Sampling().within(bot) == bot
    assert Sampling(max_tokens=500, seed=1).within(bot) == GenerationOptions(
        temperature=0.2, max_tokens=100, seed=1
    )


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        (
            {
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
                "tool_choice": "required",
            },
            "tools",
        ),
        ({"functions": [{"name": "f", "parameters": {}}]}, "functions"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"audio": {"voice": "alloy", "format": "mp3"}}, "audio"),
        ({"extra_body": {"frobnicate": 1}}, "frobnicate"),
    ],
)
async def test_what_cannot_be_honoured_is_refused_by_name(
    server: RunningServer, fake_llm: FakeLLM, extra: dict[str, Any], param: str
) -> None:
    client = await _client(server)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(model="vinhuset", messages=HEI, **extra)
    assert refused.value.code == "unsupported_parameter"
    assert refused.value.param == param
    assert f"{param}" in refused.value.message
    assert fake_llm.requests == []


async def test_image_parts_are_refused_with_their_place(server: RunningServer) -> None:
    client = await _client(server)
    with pytest.raises(openai.BadRequestError) as refused:
        await client.chat.completions.create(
            model="vinhuset",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
                    ],
                }
            ],
        )
    assert refused.value.param == "messages[0].content[1]"
    assert "image_url" in refused.value.message


async def test_harmless_defaults_are_accepted(server: RunningServer) -> None:
    client = await _client(server)
    await client.chat.completions.create(
        model="vinhuset",
        messages=HEI,
        n=1,
        response_format={"type": "text"},
        logprobs=False,
        tool_choice="none",
        store=False,
        metadata={"a": "b"},
    )


async def test_errors_state_their_first_cause_with_param_and_code(server: RunningServer) -> None:
    client = await _client(server)
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        await client.chat.completions.create(
            model="vinhuset", messages=[{"role": "robot", "content": "Hei"}]
        )
    assert invalid.value.code == "invalid_request"
    assert invalid.value.param == "messages[0].role"
    assert "- messages[0].role: Input should be" in invalid.value.message
    with pytest.raises(openai.UnprocessableEntityError) as last:
        await client.chat.completions.create(
            model="vinhuset", messages=[{"role": "assistant", "content": "Hei"}]
        )
    assert last.value.param == "messages[0]" and "the user's" in last.value.message

    not_json = await server.client.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"]["code"] == "bad_request"
    assert "not valid JSON" in not_json.json()["error"]["message"]


async def test_a_model_is_retrieved_and_a_missing_one_is_named_by_model(
    server: RunningServer,
) -> None:
    client = await _client(server)
    found = await client.models.retrieve("vinhuset")
    assert (found.id, found.object) == ("vinhuset", "model")
    with pytest.raises(openai.NotFoundError) as missing:
        await client.models.retrieve("nope")
    assert (
        missing.value.param == "model"
        and "`model`" in missing.value.response.json()["error"]["hint"]
    )
    assert missing.value.response.headers["content-type"] == "application/json"
    with pytest.raises(openai.NotFoundError) as unknown:
        await client.chat.completions.create(model="nope", messages=HEI)
    assert unknown.value.param == "model" and "URL" not in unknown.value.message


async def test_a_stateless_client_resending_its_history_stays_in_one_session(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 2
    client = await _client(server)
    history: list[Any] = [{"role": "user", "content": "Hei"}]
    first = await client.chat.completions.with_raw_response.create(
        model="vinhuset", messages=history, user="alice"
    )
    history += [
        {"role": "assistant", "content": first.parse().choices[0].message.content},
        {"role": "user", "content": "Rødvin?"},
    ]
    second = await client.chat.completions.with_raw_response.create(
        model="vinhuset", messages=history, user="alice"
    )
    session = first.headers["x-chinwag-session-id"]
    assert second.headers["x-chinwag-session-id"] == session
    # The same history from another end user never lands in alice's session.
    bob = await client.chat.completions.with_raw_response.create(
        model="vinhuset", messages=history, user="bob"
    )
    assert bob.headers["x-chinwag-session-id"] != session
    # A history that differs in a word is another conversation.
    history[1] = {"role": "assistant", "content": "something else"}
    other = await client.chat.completions.with_raw_response.create(
        model="vinhuset", messages=history, user="alice"
    )
    assert other.headers["x-chinwag-session-id"] != session
    async with server.db.read() as conn:
        sessions = (await conn.execute(select(func.count()).select_from(ChatSession))).scalar()
    assert sessions == 3


async def test_a_decline_says_so_and_costs_nothing(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    from tests.engine.test_answer_policy import grounded_bot

    async with run_server(make_settings, bot=grounded_bot(mode="grounded")) as server:
        client = await _client(server)
        poem = [{"role": "user", "content": "Write me a poem about the sea"}]
        declined = await client.chat.completions.create(model="vinhuset", messages=poem)
        assert declined.model_extra == {"declined": "out_of_scope"}
        assert declined.choices[0].message.content == (
            "Sorry, I can only help with questions about Vinhuset."
        )
        assert declined.usage is not None and declined.usage.total_tokens == 0
        stream = await client.chat.completions.create(
            model="vinhuset", messages=poem, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
        assert chunks[-2].model_extra == {"declined": "out_of_scope"}
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 0
    assert fake_llm.requests == []


async def test_a_curated_answer_reports_no_tokens(server: RunningServer, fake_llm: FakeLLM) -> None:
    from tests.answers.test_curated_serving import SATURDAY, _curate

    await _curate(server)
    client = await _client(server)
    completion = await client.chat.completions.create(
        model="vinhuset", messages=[{"role": "user", "content": "When are you open on Saturday?"}]
    )
    assert completion.choices[0].message.content == SATURDAY["answer"]
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (0, 0)
    assert [r for r in fake_llm.requests if "messages" in r] == []
