"""A message that matches a curated question is answered from it, marked, logged and counted."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from chinwag.answers.schemas import CuratedAnswerIn
from chinwag.answers.service import create_answer
from chinwag.bots.demo import demo_bot_config
from chinwag.conversations.models import FlowRun, Message
from chinwag.http.runtime import Services
from chinwag.providers.embeddings.batching import Batcher
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.helpers import ask
from tests.providers.test_embedding_batching import CountingModel

SATURDAY = {
    "question": "When are you open on Saturday?",
    "answer": "On Saturdays we are open 10:00-16:00. In December: 10:00-18:00!\nWelcome.",
    "sources": [{"title": "Opening hours", "url": "https://vinhuset.example/hours"}],
}


async def _curate(server: RunningServer, **body: Any) -> str:
    response = await server.client.post("/v1/bots/vinhuset/answers", json={**SATURDAY, **body})
    assert response.status_code == 201, response.text
    answer_id: str = response.json()["id"]
    return answer_id


async def test_a_matching_message_streams_the_curated_answer(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    curated_id = await _curate(server)
    events = await ask(server.client, "what time are you open on saturdays?")
    types = [e.type for e in events]
    assert types[0] == "stream.started" and types[-2:] == ["message.completed", "stream.completed"]
    assert set(types[1:-2]) == {"message.delta"} and len(types[1:-2]) == 3  # one per sentence
    assert "".join(e.data["text"] for e in events[1:-2]) == SATURDAY["answer"]
    completed = events[-2].data
    assert completed["text"] == SATURDAY["answer"]
    assert completed["curated"]["id"] == curated_id
    assert completed["curated"]["mode"] == "answer"
    assert completed["curated"]["question"] == SATURDAY["question"]
    assert 0.9 <= completed["curated"]["score"] <= 1
    assert completed["sources"] == [
        {
            "document": "https://vinhuset.example/hours",
            "title": "Opening hours",
            "score": completed["curated"]["score"],
            "snippet": "",
            "url": "https://vinhuset.example/hours",
        }
    ]
    assert events[-1].data["status"] == "completed"
    assert [r for r in fake_llm.requests if "messages" in r] == []  # no LLM call

    async with server.db.read() as conn:
        row = (
            await conn.execute(select(Message).where(Message.id == completed["message_id"]))
        ).one()
        runs = (await conn.execute(select(FlowRun))).all()
    assert row.status == "complete" and row.content == SATURDAY["answer"]
    assert row.route["curated"]["id"] == curated_id
    assert runs == []
    metrics = (await server.client.get("/metrics")).text
    assert 'chinwag_curated_answers_total{bot="vinhuset",mode="answer"} 1.0' in metrics


async def test_other_and_disabled_questions_go_to_the_llm(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    curated_id = await _curate(server)
    events = await ask(server.client, "Which wine goes with salmon?")
    assert events[-2].data["curated"] is None
    # Closer to the question than a paraphrase (0.93), but Sunday is not Saturday.
    events = await ask(server.client, "When are you open on Sunday?")
    assert events[-2].data["curated"] is None
    assert events[-2].data["text"] == "".join(fake_llm.behaviour.token(i) for i in range(8))

    patched = await server.client.patch(
        f"/v1/bots/vinhuset/answers/{curated_id}", json={"enabled": False}
    )
    assert patched.status_code == 200
    events = await ask(server.client, "When are you open on Saturday?")
    assert events[-2].data["curated"] is None  # the cache saw the change

    await server.client.patch(f"/v1/bots/vinhuset/answers/{curated_id}", json={"enabled": True})
    events = await ask(server.client, "When are you open on Saturday?")
    assert events[-2].data["curated"]["id"] == curated_id


async def test_prefer_gives_the_curated_answer_to_main(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    bot = plain_demo_bot().model_validate(
        {**plain_demo_bot().model_dump(exclude_none=True), "curated": "prefer"}
    )
    async with run_server(make_settings, bot=bot) as server:
        curated_id = await _curate(server)
        events = await ask(server.client, "When are you open on Saturday?")
        completed = events[-2].data
        assert completed["curated"]["id"] == curated_id
        assert completed["curated"]["mode"] == "prefer"
        assert completed["text"] == "".join(fake_llm.behaviour.token(i) for i in range(8))
        assert "flow.completed" in [e.type for e in events]
        (request,) = [r for r in fake_llm.requests if "messages" in r]
        context = request["messages"][-2]
        assert context["role"] == "system"
        assert SATURDAY["answer"] in context["content"]
        assert request["messages"][-1] == {
            "role": "user",
            "content": "When are you open on Saturday?",
        }
        metrics = (await server.client.get("/metrics")).text
        assert 'chinwag_curated_answers_total{bot="vinhuset",mode="prefer"} 1.0' in metrics


async def test_an_answer_added_elsewhere_is_used_within_two_seconds(
    server: RunningServer,
) -> None:
    """Written straight into the database (as `chinwag answers add` or another server does):
    the server finds it on its next look, at most 2 s later."""
    events = await ask(server.client, "When are you open on Saturday?")
    assert events[-2].data["curated"] is None
    async with server.db.write() as conn:
        added = await create_answer(conn, "vinhuset", CuratedAnswerIn(**SATURDAY))
    await asyncio.sleep(2.1)
    events = await ask(server.client, "When are you open on Saturday?")
    assert events[-2].data["curated"]["id"] == added.id


async def test_the_curated_match_and_the_router_share_one_model_pass(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    """A message of two sentences that matches no curated question: the matcher wants its
    vector and the router its sentences' vectors, pooled from the message's pass. Both come
    from one pass of the embedding model, not one each."""
    bot = demo_bot_config().model_copy(update={"knowledge": None})  # router and curated
    runner = run_server(make_settings, bot=bot)
    async with runner as server:
        await _curate(server)
        await ask(server.client, "Which wine goes with salmon?")  # the curated cache is warm
        services: Services = runner.uvicorn.config.app.state.services
        embedder = services.models.embedder(bot.embedding)
        assert isinstance(embedder, LocalEmbedder)
        model = CountingModel(embedder)
        embedder._batcher = Batcher(model.encode, max_batch=32, max_wait=0.002)
        message = "Hello there. Which wine goes with grilled trout?"
        events = await ask(server.client, message)
    assert events[-2].data["curated"] is None
    assert next(e for e in events if e.type == "route.decided").data["scores"]
    passes = [batch for batch in model.pieces if any(text == message for text, _, _ in batch)]
    assert len(passes) == 1, model.pieces
