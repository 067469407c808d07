"""The answer policy as a visitor meets it: a grounded bot declines what is not its business,
and what nothing it has supports, in the visitor's language, with no LLM call; an open bot
answers everything; `check: llm` asks a model and survives one that fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig, RouterConfig
from chinwag.config.handoff import HandoffConfig
from chinwag.conversations.models import Message
from chinwag.engine.scope import Scope, ScopeExamples, shipped_examples, train_scope
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, _parsed_demo_bot, plain_demo_bot, run_server
from tests.helpers import ask

SYSTEM = (
    "You answer for Vinhuset, a wine shop in Bergen. We are open Monday to Friday 10:00-18:00 "
    "and Saturday 10:00-16:00. Delivery in Bergen costs 99 NOK, free above 800 NOK."
)


def grounded_bot(**policy: Any) -> BotConfig:
    plain = plain_demo_bot()
    main = plain.flows["main"].model_copy(update={"system": SYSTEM, "template": "{{ message }}"})
    return plain.model_copy(
        update={
            "flows": {"main": main},
            "policy": BotConfig.model_validate(
                {"id": "x", "name": "x", "flows": {"main": {"template": "x"}}, "policy": policy}
            ).policy,
        }
    )


@pytest.fixture
async def server(make_settings: Settings) -> AsyncIterator[RunningServer]:
    async with run_server(make_settings, bot=grounded_bot(mode="grounded")) as running:
        yield running


async def _route(server: RunningServer, message_id: str) -> dict[str, Any]:
    async with server.db.read() as conn:
        route = (
            await conn.execute(select(Message.route).where(Message.id == message_id))
        ).scalar_one()
    assert isinstance(route, dict)
    return route


async def test_an_out_of_scope_message_is_declined_without_an_llm_call(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(server.client, "Write me a poem about the sea")
    types = [e.type for e in events]
    assert types[:2] == ["stream.started", "message.declined"]
    assert "route.decided" not in types and "flow.started" not in types
    assert events[1].data["reason"] == "out_of_scope"
    assert events[1].data["scores"]["out_of_scope"] >= 0.7
    completed = events[-2].data
    assert completed["text"] == "Sorry, I can only help with questions about Vinhuset."
    assert completed["usage"] is None and fake_llm.requests == []
    route = await _route(server, completed["message_id"])
    assert route["declined"]["reason"] == "out_of_scope"


async def test_the_decline_is_in_the_visitor_s_language(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(server.client, "Skriv et dikt om havet")
    assert events[-2].data["text"] == "Beklager, jeg kan bare hjelpe med spørsmål om Vinhuset."
    assert fake_llm.requests == []


async def test_a_question_the_material_answers_reaches_the_llm_with_its_scores_recorded(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(server.client, "What does delivery cost in Bergen?")
    assert "message.declined" not in [e.type for e in events]
    completed = events[-2].data
    assert completed["text"].startswith("Hello0 from1") and len(fake_llm.requests) == 1
    policy = (await _route(server, completed["message_id"]))["policy"]
    assert policy["out_of_scope"] < 0.5 and policy["support"] >= 0.14
    assert policy["coverage"] > 0.5 and policy["unknown"] == 0


async def test_a_question_nothing_supports_is_declined_as_unanswerable(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    events = await ask(server.client, "Do you have parking spaces for bicycles nearby?")
    declined = next(e for e in events if e.type == "message.declined").data
    assert declined["reason"] == "unanswerable"
    assert declined["scores"]["support"] < 0.14 and declined["scores"]["out_of_scope"] < 0.5
    assert events[-2].data["text"].startswith("Sorry, I don't know that")
    assert fake_llm.requests == []


async def test_a_bot_with_handoff_offers_a_person_when_it_cannot_answer(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    bot = grounded_bot(mode="grounded").model_copy(
        update={"handoff": HandoffConfig(enabled=True, offer={"nb": "Vil du ha en av oss?"})}
    )
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "Do you have parking spaces for bicycles nearby?")
        declined = next(e for e in events if e.type == "message.declined").data
        assert declined["reason"] == "unanswerable" and declined["offer"] == "handoff"
        assert events[-2].data["text"] == (
            "Sorry, I don't know that: it isn't in what Vinhuset has given me to answer from. "
            "Would you like to talk to a person from Vinhuset? Ask for one, and someone will help."
        )
        norwegian = await ask(server.client, "Har dere sykkelparkering i bakgården eller på gata?")
        assert norwegian[-2].data["text"].endswith("svare ut fra. Vil du ha en av oss?")
        # A poem is not something a person from the shop would help with either.
        poem = await ask(server.client, "Write me a poem about the sea")
        assert next(e for e in poem if e.type == "message.declined").data["offer"] is None
        assert poem[-2].data["text"] == "Sorry, I can only help with questions about Vinhuset."
        # The offer is what the stored message says, for a reload or the console.
        async with server.db.read() as conn:
            stored = (
                await conn.execute(
                    select(Message.content).where(Message.id == events[-2].data["message_id"])
                )
            ).scalar_one()
        assert stored.endswith("Ask for one, and someone will help.")
        assert fake_llm.requests == []


async def test_without_handoff_an_unanswerable_decline_offers_nothing(
    server: RunningServer,
) -> None:
    events = await ask(server.client, "Do you have parking spaces for bicycles nearby?")
    declined = next(e for e in events if e.type == "message.declined").data
    assert declined["offer"] is None and "person" not in events[-2].data["text"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_bot_s_own_texts_and_examples_win(make_settings: Settings) -> None:
    bot = grounded_bot(
        mode="grounded",
        declined={"en": "We only talk about wine here."},
        unanswerable={"nb": "Det vet jeg ikke. Ring oss på 55 00 00 00."},
        in_scope=["Can I park my car outside the shop?", "Er det parkering ved butikken?"],
    )
    async with run_server(make_settings, bot=bot) as server:
        assert (await ask(server.client, "Write a poem about autumn"))[-2].data["text"] == (
            "We only talk about wine here."
        )
        asked = "Har dere sykkelparkering i bakgården eller på gata?"
        norwegian = (await ask(server.client, asked))[-2].data["text"]
        assert norwegian == "Det vet jeg ikke. Ring oss på 55 00 00 00."


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_open_bot_answers_everything(make_settings: Settings, fake_llm: FakeLLM) -> None:
    async with run_server(make_settings, bot=grounded_bot(mode="open")) as server:
        events = await ask(server.client, "Write me a poem about the sea")
        assert "message.declined" not in [e.type for e in events]
        assert len(fake_llm.requests) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_check_llm_declines_what_the_model_says_the_material_does_not_answer(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    check = {"provider": "openai", "base_url": fake_llm.base_url, "model": "checker"}
    fake_llm.behaviour.model_replies["checker"] = '{"answerable": false}'
    bot = grounded_bot(mode="grounded", check="llm", check_llm=check)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "What does delivery cost in Bergen?")
        declined = next(e for e in events if e.type == "message.declined").data
        assert declined == {
            "type": "message.declined",
            "reason": "unanswerable",
            "scores": declined["scores"] | {"check": 0.0},
            "offer": None,
        }
        (request,) = fake_llm.requests  # the check, not main
        assert request["model"] == "checker"
        assert "Material:" in request["messages"][-1]["content"] and "99 NOK" in str(request)

        fake_llm.requests.clear()
        fake_llm.behaviour.model_replies["checker"] = '{"answerable": true}'
        events = await ask(server.client, "What does delivery cost in Bergen?")
        assert [r["model"] for r in fake_llm.requests] == ["checker", "fake-model"]
        assert events[-2].data["text"].startswith("Hello0 from1")


async def test_check_llm_declines_what_the_model_says_is_not_the_business_s(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    check = {"provider": "openai", "base_url": fake_llm.base_url, "model": "checker"}
    fake_llm.behaviour.model_replies["checker"] = '{"in_scope": false, "answerable": true}'
    bot = grounded_bot(mode="grounded", check="llm", check_llm=check)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "What does delivery cost in Bergen?")
        declined = next(e for e in events if e.type == "message.declined").data
        assert declined["reason"] == "out_of_scope"
        assert declined["scores"]["check_in_scope"] == 0.0
        assert events[-2].data["text"] == "Sorry, I can only help with questions about Vinhuset."
        (request,) = fake_llm.requests  # the check told whose business it is; main not called
        assert "answers for Vinhuset" in request["messages"][0]["content"]
        route = await _route(server, events[-2].data["message_id"])
        assert route["declined"]["reason"] == "out_of_scope"


async def test_check_llm_also_checks_an_answer_grounded_by_a_flow(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    check = {"provider": "openai", "base_url": fake_llm.base_url, "model": "checker"}
    fake_llm.behaviour.model_replies["checker"] = '{"in_scope": true, "answerable": false}'
    bot = grounded_bot(mode="grounded", check="llm", check_llm=check)
    statistics = (
        _parsed_demo_bot().flows["statistics"].model_copy(update={"verbatim_answer": False})
    )
    main = bot.flows["main"].model_copy(
        update={"template": "{{ flows.statistics.output if flows.statistics }}\n{{ message }}"}
    )
    bot = bot.model_copy(
        update={
            "flows": {"main": main, "statistics": statistics},
            "router": RouterConfig(strategy="keywords"),
        }
    )
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "What does the Barolo cost?")
        types = [e.type for e in events]
        assert types.index("flow.completed") < types.index("message.declined")
        declined = next(e for e in events if e.type == "message.declined").data
        assert declined["reason"] == "unanswerable" and declined["scores"]["check"] == 0.0
        (request,) = fake_llm.requests  # the check saw the flow's rows; main was not called
        assert "Barolo" in request["messages"][-1]["content"].split("Message:")[0]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_failing_check_is_recorded_and_the_answer_goes_on(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    check = {"provider": "openai", "base_url": fake_llm.base_url, "model": "checker"}
    fake_llm.behaviour.model_failures["checker"] = 500
    bot = grounded_bot(mode="grounded", check="llm", check_llm=check)
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "What does delivery cost in Bergen?")
        completed = events[-2].data
        assert completed["text"].startswith("Hello0 from1")
        route = await _route(server, completed["message_id"])
        assert route["policy_check_error"] == "grounding_check_failed"


def test_policy_shorthand_and_errors_are_reported_with_their_path() -> None:
    base = {"id": "b", "name": "B", "flows": {"main": {"template": "{{ message }}"}}}
    bot = BotConfig.model_validate({**base, "policy": "grounded"})
    assert bot.answer_policy.mode == "grounded"
    assert BotConfig.model_validate(base).answer_policy.mode == "open"
    report = validate_document({**base, "policy": {"mode": "strict", "declined": {"de": "x"}}})
    paths = sorted(e.path for e in report.errors)
    assert paths == ["policy.declined.de", "policy.mode"], report.errors


async def test_a_bot_whose_examples_ask_for_a_task_keeps_that_task() -> None:
    """The task patterns give way to the bot's own examples: a translation bureau translates."""
    models = ModelRegistry(Settings(llm_base_url=None, _env_file=None))  # type: ignore[call-arg]
    try:
        scope = Scope(lambda bot: models.embedder(bot.embedding))
        bureau = BotConfig.model_validate(
            {
                "id": "bureau",
                "name": "Bureau",
                "policy": "grounded",
                "flows": {
                    "main": {
                        "template": "{{ message }}",
                        "examples": ["Can you translate this letter into German?", "Prices?"],
                    }
                },
            }
        )
        assert await scope.out_of_scope(bureau, 1, "Translate this contract into Spanish") < 0.9
        shop = plain_demo_bot().model_copy(update={"policy": bureau.policy})
        assert await scope.out_of_scope(shop, 1, "Translate this contract into Spanish") >= 0.9
    finally:
        await models.aclose()


def test_the_shipped_examples_train_a_classifier_that_separates_them() -> None:
    import numpy as np

    shipped = shipped_examples()
    rng = np.random.default_rng(0)
    texts = (*shipped.in_scope, *shipped.out_of_scope)
    vectors = rng.normal(size=(len(texts), 8)).astype(np.float32)
    classifier = train_scope(ScopeExamples(shipped.in_scope, shipped.out_of_scope), vectors)
    poem = texts.index(shipped.out_of_scope[0])
    assert classifier.learnt(texts[poem], vectors[poem]) > 0.5
    assert classifier.learnt(shipped.in_scope[0], vectors[0]) < 0.5
