"""A request for a person in the visitor's own words, learnt from `handoff.examples` by the
semantic router (docs/handoff.md's example, as a shop copies it): the session waits for a
person with no LLM call; a question near it is answered by the bot."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sqlalchemy import select

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig, RouterConfig
from chinwag.conversations.models import Handoff, Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.handoff.conftest import BOT, docs_example, learning_bot, open_shop, session_events
from tests.helpers import ask, chinwag

SESSION = f"/v1/bots/{BOT}/sessions"


async def test_a_request_in_the_visitors_words_waits_for_a_person(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    async with run_server(make_settings, bot=learning_bot()) as server:
        shop = await open_shop(server)
        events = await ask(shop.client, "Get me your manager", headers=shop.alice)
        types = [e.type for e in events]
        assert types[:3] == ["stream.started", "route.decided", "handoff.requested"]
        assert types[-2:] == ["message.completed", "stream.completed"]
        route = events[1].data
        assert route["flows"] == ["handoff"] and route["scores"]["handoff"] >= 0.6
        text = events[-2].data["text"]
        assert text.startswith("I've asked for a person from Vinhuset.")
        assert fake_llm.requests == [], "no LLM call for a request for a person"
        session = events[0].data["session_id"]
        waiting = await session_events(shop.client, f"{SESSION}/{session}/events", 1, shop.alice)
        assert waiting[0].data["state"] == "waiting"
        assert waiting[0].data["requested_by"] == "words"
        async with server.db.read() as conn:
            (handoff,) = (await conn.execute(select(Handoff.state))).all()
            routes = await conn.execute(select(Message.route).where(Message.role == "assistant"))
            (stored,) = [r.route for r in routes]
        assert handoff.state == "waiting"
        assert stored["asks_person"] is True and stored["flows"] == []
        # The bot is silent now: the next message waits for the person too.
        held = await shop.client.post(
            f"/v1/bots/{BOT}/messages",
            json={"message": "Hello?", "session_id": session},
            headers=shop.alice,
        )
        assert held.status_code == 202, held.text
        assert fake_llm.requests == []


async def test_questions_near_a_request_are_answered_by_the_bot(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    async with run_server(make_settings, bot=learning_bot()) as server:
        shop = await open_shop(server)
        for question in ("Are you a human?", "Har dere Barolo?", "Which red goes with lamb?"):
            events = await ask(shop.client, question, headers=shop.alice)
            types = [e.type for e in events]
            assert "handoff.requested" not in types, question
            route = next(e for e in events if e.type == "route.decided")
            assert route.data["flows"] == ["main"], question
        assert len(fake_llm.requests) == 3
        async with server.db.read() as conn:
            assert (await conn.execute(select(Handoff))).all() == []


def test_examples_the_router_cannot_use_are_reported() -> None:
    def problems(bot: BotConfig) -> list[tuple[str, str, str]]:
        report = validate_document(bot.model_dump(exclude_none=True))
        return [
            (p.path, p.code, p.severity)
            for p in [*report.errors, *report.warnings]
            if p.code in ("handoff_examples_unused", "flow_name_reserved")
        ]

    assert problems(learning_bot()) == []
    keywords = learning_bot().model_copy(update={"router": RouterConfig(strategy="keywords")})
    assert problems(keywords) == [("handoff.examples", "handoff_examples_unused", "warning")]
    assert problems(learning_bot(enabled=False)) == [
        ("handoff.examples", "handoff_examples_unused", "warning")
    ]
    bot = learning_bot()
    own = bot.model_copy(update={"flows": {**bot.flows, "handoff": bot.flows["main"]}})
    assert problems(own) == [("flows.handoff", "flow_name_reserved", "error")]


async def test_chinwag_eval_measures_the_learnt_flow(tmp_path: Path) -> None:
    bot = tmp_path / "vinhuset.yaml"
    example = docs_example()
    main = {"template": "{{ message }}", "examples": learning_bot().flows["main"].examples}
    document = {"id": BOT, "name": "Vinhuset", **example, "flows": {"main": main}}
    bot.write_text(yaml.safe_dump(document, allow_unicode=True))
    labelled = tmp_path / "asking.jsonl"
    lines = [
        {"message": "Get me your manager", "flows": ["handoff"]},
        {"message": "Kan en ansatt overta samtalen?", "flows": ["handoff"]},
        {"message": "Are you a human?", "flows": []},
        {"message": "Har dere Barolo?", "flows": []},
    ]
    labelled.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, err = await chinwag("sqlite:///unused.db", "eval", str(bot), str(labelled))
    assert code == 0, out + err
    assert "routing: 4/4 right (100.0%)" in out
