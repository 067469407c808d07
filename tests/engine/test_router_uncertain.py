"""`router.uncertain: llm`: a message whose semantic scores lie near a threshold goes to the llm
router; a confident one does not; when the llm router fails, the semantic decision stands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chinwag.config.bot import BotConfig
from chinwag.engine.router import Router
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM


def dentist(fake: FakeLLM, margin: float) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "dentist",
            "name": "Dentist",
            "router": {
                "strategy": "semantic",
                "uncertain": "llm",
                "uncertain_margin": margin,
                "timeout_seconds": 5,
                "llm": {"provider": "openai", "base_url": fake.base_url, "model": "router"},
            },
            "flows": {
                "main": {
                    "template": "{{ message }}",
                    "examples": ["Where is the clinic?", "What are your opening hours?"],
                },
                "prices": {
                    "template": "{{ message }}",
                    "description": "Prices of treatments.",
                    "examples": ["How much is a check-up?", "What does a filling cost?"],
                },
                "appointments": {
                    "template": "{{ message }}",
                    "description": "Booking and moving appointments.",
                    "examples": ["I'd like to book a check-up", "Can I move my appointment?"],
                },
            },
        }
    )


@pytest.fixture
async def router() -> AsyncIterator[Router]:
    models = ModelRegistry(Settings(llm_base_url=None, _env_file=None))  # type: ignore[call-arg]
    yield Router(embedder_for=lambda b: models.embedder(b.embedding), model_for=models.for_bot)
    await models.aclose()


async def test_an_uncertain_message_goes_to_the_llm_router(
    router: Router, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_replies["router"] = '{"flows": ["appointments"]}'
    decision = await router.route(dentist(fake_llm, margin=1.0), 1, "What does a filling cost?")
    assert decision.strategy == "semantic+llm" and decision.uncertain == "llm"
    assert decision.flows == ["appointments"]  # the llm's word, over the semantic one
    assert decision.scores["prices"] > decision.scores["appointments"]  # kept for the record
    (request,) = fake_llm.requests
    assert request["model"] == "router"


async def test_a_confident_message_does_not(router: Router, fake_llm: FakeLLM) -> None:
    decision = await router.route(dentist(fake_llm, margin=0.0), 1, "What does a filling cost?")
    assert decision.strategy == "semantic" and decision.uncertain is None
    assert fake_llm.requests == []


async def test_when_the_llm_router_fails_the_semantic_decision_stands(
    router: Router, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_failures["router"] = 500
    decision = await router.route(dentist(fake_llm, margin=1.0), 1, "What does a filling cost?")
    assert decision.strategy == "semantic" and decision.error is None
    assert decision.uncertain == "llm_error" and decision.flows == ["prices"]
