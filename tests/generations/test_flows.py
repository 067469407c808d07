"""Optional flows run in parallel, each with its own timeout; `main` streams with their outputs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chinwag.config.bot import BotConfig
from chinwag.conversations.models import FlowRun, Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask


def flow_bot(strategy: str = "all", **flows: dict[str, Any]) -> BotConfig:
    """A bot whose optional flows each call their own model name, so the fake can script them."""
    main_system = " ".join(
        f"{{% if flows.{n} is defined %}}[{n}: {{{{ flows.{n}.output }}}}]{{% endif %}}"
        for n in flows
    )
    return BotConfig.model_validate(
        {
            "id": "vinhuset",
            "name": "Flow test",
            "router": {"strategy": strategy, "llm": {"model": "router-model"}},
            "flows": {
                "main": {"system": "Main. " + main_system, "template": "{{ message }}"},
                **{
                    name: {
                        "description": f"the {name} flow",
                        "keywords": [name],
                        "template": f"{name}: {{{{ message }}}}",
                        "llm": {"model": f"{name}-model"},
                        **extra,
                    }
                    for name, extra in flows.items()
                },
            },
        }
    )


def _main_prompt(fake: FakeLLM) -> dict[str, Any]:
    (request,) = [r for r in fake.requests if r["model"] == "fake-model"]
    return request


async def test_flows_run_in_parallel_and_feed_main(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    b = fake_llm.behaviour
    b.model_delays = {"a-model": 0.6, "b-model": 0.6, "c-model": 0.6}
    b.model_replies = {"a-model": "output of a", "b-model": "output of b", "c-model": "output of c"}
    async with run_server(make_settings, bot=flow_bot(a={}, b={}, c={})) as server:
        events = await ask(server.client, "hello")

        types = [e.type for e in events]
        assert types[:2] == ["stream.started", "route.decided"]
        assert events[1].data["flows"] == ["main", "a", "b", "c"]
        assert events[1].data["strategy"] == "all"
        assert sorted(e.data["flow"] for e in events if e.type == "flow.completed") == [
            "a",
            "b",
            "c",
            "main",
        ]
        # Side by side: every optional flow started before the first of them finished (in
        # turn, each would finish before the next starts).
        optional = [(e.type, e.data.get("flow")) for e in events if e.data.get("flow") != "main"]
        kinds = [kind for kind, _ in optional if kind.startswith("flow.")]
        assert kinds.index("flow.completed") == 3, optional
        system = _main_prompt(fake_llm)["messages"][0]["content"]
        assert "[a: output of a]" in system and "[c: output of c]" in system
        # main reads the optional flows' outputs whole: they are asked for one JSON answer
        streamed = {r["model"]: r["stream"] for r in fake_llm.requests}
        assert streamed == {
            "a-model": False,
            "b-model": False,
            "c-model": False,
            "fake-model": True,
        }
        assert events[-1].data["status"] == "completed"

        async with server.db.read() as conn:
            runs = (
                await conn.execute(select(FlowRun.flow, FlowRun.status).order_by(FlowRun.flow))
            ).all()
            route = (
                await conn.execute(select(Message.route).where(Message.role == "assistant"))
            ).scalar_one()
        assert [tuple(r) for r in runs] == [(n, "completed") for n in ("a", "b", "c", "main")]
        assert route["strategy"] == "all" and route["flows"] == ["a", "b", "c"]

        stats = (await server.client.get("/v1/bots/vinhuset/flow-stats")).json()
        assert [(s["flow"], s["runs"], s["failed"]) for s in stats] == [
            ("a", 1, 0),
            ("b", 1, 0),
            ("c", 1, 0),
            ("main", 1, 0),
        ]


async def test_slow_optional_flow_times_out_and_the_answer_still_arrives(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_delays = {"slow-model": 5.0}
    fake_llm.behaviour.model_replies = {"fast-model": "fast facts"}
    bot = flow_bot(fast={}, slow={"timeout_seconds": 0.3})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "hello")
        failed = [e.data for e in events if e.type == "flow.failed"]
        assert len(failed) == 1 and failed[0]["flow"] == "slow"
        assert failed[0]["code"] == "flow_timeout" and "0.3" in failed[0]["message"]
        assert events[-2].type == "message.completed" and events[-2].data["text"]
        assert events[-1].data["status"] == "completed"
        system = _main_prompt(fake_llm)["messages"][0]["content"]
        assert "[fast: fast facts]" in system and "[slow:" not in system

        runs = (await server.client.get("/v1/bots/vinhuset/flow-runs?status=failed")).json()
        assert [(r["flow"], r["error_code"]) for r in runs] == [("slow", "flow_timeout")]


async def test_a_failing_optional_flow_is_reported_and_skipped(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_failures = {"broken-model": 500}
    async with run_server(make_settings, bot=flow_bot(broken={})) as server:
        events = await ask(server.client, "hello")
        (failed,) = [e.data for e in events if e.type == "flow.failed"]
        assert failed["flow"] == "broken" and failed["code"].startswith("llm_")
        assert events[-1].data["status"] == "completed"


async def test_keywords_router_selects_by_whole_words(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    async with run_server(make_settings, bot=flow_bot("keywords", prices={}, hours={})) as server:
        decided = (await ask(server.client, "What PRICES do you have?"))[1].data
        assert decided["flows"] == ["main", "prices"]
        assert decided["scores"] == {"prices": 1.0, "hours": 0.0}
        decided = (await ask(server.client, "pricesless"))[1].data
        assert decided["flows"] == ["main"]


async def test_llm_router_uses_one_classification_call(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_replies = {"router-model": 'Sure: {"flows": ["stock"]}'}
    async with run_server(make_settings, bot=flow_bot("llm", stock={}, chat={})) as server:
        events = await ask(server.client, "Do you have Barolo?")
        assert events[1].data["flows"] == ["main", "stock"]
        assert events[1].data["scores"] == {"stock": 1.0, "chat": 0.0}
        router_calls = [r for r in fake_llm.requests if r["model"] == "router-model"]
        assert len(router_calls) == 1
        assert "- stock: the stock flow" in router_calls[0]["messages"][0]["content"]


async def test_llm_router_with_invalid_output_says_so_and_main_answers(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_replies = {"router-model": '{"flows": ["nonsense"]}'}
    async with run_server(make_settings, bot=flow_bot("llm", stock={})) as server:
        events = await ask(server.client, "hello")
        decided = events[1].data
        assert decided["flows"] == ["main"]
        assert decided["error"]["code"] == "router_invalid_output"
        assert "nonsense" in decided["error"]["message"]
        assert events[-1].data["status"] == "completed"


async def test_llm_router_that_does_not_answer_in_time_says_so_and_main_answers(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_delays = {"router-model": 5.0}
    bot = flow_bot("llm", stock={})
    bot = bot.model_copy(update={"router": bot.router.model_copy(update={"timeout_seconds": 0.3})})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "hello")
        decided = events[1].data
        assert decided["flows"] == ["main"] and decided["scores"] == {}
        assert decided["error"]["code"] == "router_failed"
        assert "0.3 s" in decided["error"]["message"]
        assert "router.timeout_seconds" in decided["error"]["message"]
        assert 300 <= decided["ms"] < 3000
        assert events[-2].data["text"] and events[-1].data["status"] == "completed"


async def test_semantic_routing_of_the_demo_bot(make_settings: Settings, fake_llm: FakeLLM) -> None:
    from chinwag.bots.demo import demo_bot_config

    fake_llm.behaviour.model_replies = {}
    async with run_server(make_settings, bot=demo_bot_config()) as server:
        events = await ask(server.client, "How many bottles of Barolo have you sold this year?")
        decided = events[1].data
        assert decided["strategy"] == "semantic"
        assert decided["flows"] == ["main", "statistics"]
        assert decided["scores"]["statistics"] > decided["scores"]["smalltalk"]
        # The statistics flow looked the Barolo up in the shop's wine table, with no LLM call
        # (main then fails here: this test server has no knowledge index).
        stats = next(
            e for e in events if e.type == "flow.completed" and e.data["flow"] == "statistics"
        )
        assert stats.data["rows"] == {"wines": 1} and stats.data["usage"] is None


PRICES = "Barolo costs 689 NOK. Rioja costs 289 NOK.\nBoth are in stock."


async def test_a_verbatim_flow_chosen_alone_is_the_answer_word_for_word(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    prices = {"generate": False, "verbatim_answer": True, "template": PRICES}
    async with run_server(make_settings, bot=flow_bot("keywords", prices=prices)) as server:
        events = await ask(server.client, "what are your prices?")

        assert fake_llm.requests == []  # neither the flow nor main called a model
        steps = [(e.type, e.data.get("flow")) for e in events if e.type != "message.delta"]
        assert steps == [
            ("stream.started", None),
            ("route.decided", None),
            ("flow.started", "prices"),
            ("flow.completed", "prices"),
            ("flow.started", "main"),
            ("flow.completed", "main"),
            ("message.completed", None),
            ("stream.completed", None),
        ]
        deltas = [e.data["text"] for e in events if e.type == "message.delta"]
        assert len(deltas) == 3 and "".join(deltas) == PRICES
        done = {e.data["flow"]: e.data for e in events if e.type == "flow.completed"}
        assert done["main"]["usage"] is None
        completed = events[-2].data
        assert completed["text"] == PRICES and completed["usage"] is None
        async with server.db.read() as conn:
            content, route = (
                await conn.execute(
                    select(Message.content, Message.route).where(Message.role == "assistant")
                )
            ).one()
            runs = (
                await conn.execute(select(FlowRun.flow, FlowRun.status).order_by(FlowRun.flow))
            ).all()
        assert content == PRICES
        assert route["flows"] == ["prices"] and route["verbatim_from"] == "prices"
        assert [tuple(r) for r in runs] == [("main", "completed"), ("prices", "completed")]


async def test_a_verbatim_lookup_answers_word_for_word_only_with_rows_the_message_named(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    wines = "name,price_nok\nBarolo Sori,689\nRosso di Lupa,239\nCava Estel,189\n"
    prices = {
        "generate": False,
        "verbatim_answer": True,
        "data": {"wines": wines},
        "lookup": {"wines": {"max_rows": 2, "columns": ["name"]}},
        "template": "{% for w in data.wines %}{{ w.name }} costs {{ w.price_nok }} NOK. "
        "{% endfor %}",
    }
    async with run_server(make_settings, bot=flow_bot("keywords", prices=prices)) as server:
        named = await ask(server.client, "What are your prices for the Barolo?")
        assert named[-2].data["text"] == "Barolo Sori costs 689 NOK."
        assert fake_llm.requests == []

        # No wine named: the two nearest rows are main's context, and main's model answers.
        events = await ask(server.client, "What are your prices for delivery?")
        route = next(e for e in events if e.type == "route.decided")
        assert route.data["flows"] == ["main", "prices"]
        rows = next(e for e in events if e.type == "flow.completed" and e.data["flow"] == "prices")
        assert rows.data["rows"] == {"wines": 2}
        completed = events[-2].data
        assert completed["usage"] is not None and "costs" not in completed["text"]
        (main_request,) = fake_llm.requests
        assert "[prices: " in main_request["messages"][0]["content"]
        async with server.db.read() as conn:
            routes = (
                (
                    await conn.execute(
                        select(Message.route)
                        .where(Message.role == "assistant")
                        .order_by(Message.created_at)
                    )
                )
                .scalars()
                .all()
            )
        assert [r.get("verbatim_from") for r in routes] == ["prices", None]


async def test_a_verbatim_flow_with_another_flow_is_context_for_main(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_replies = {"greet-model": "Hello there!"}
    prices = {"generate": False, "verbatim_answer": True, "template": PRICES}
    bot = flow_bot("keywords", prices=prices, greet={})
    async with run_server(make_settings, bot=bot) as server:
        events = await ask(server.client, "greet me, and your prices?")

        assert events[1].data["flows"] == ["main", "prices", "greet"]
        system = _main_prompt(fake_llm)["messages"][0]["content"]
        assert f"[prices: {PRICES}]" in system and "[greet: Hello there!]" in system
        assert events[-2].data["text"] != PRICES  # main's model wrote the answer
        async with server.db.read() as conn:
            route = (
                await conn.execute(select(Message.route).where(Message.role == "assistant"))
            ).scalar_one()
        assert "verbatim_from" not in route


async def test_a_verbatim_flow_that_fails_leaves_the_answer_to_main(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.model_delays = {"prices-model": 2.0}
    prices = {"verbatim_answer": True, "timeout_seconds": 0.3}
    async with run_server(make_settings, bot=flow_bot("keywords", prices=prices)) as server:
        events = await ask(server.client, "what are your prices?")

        failed = next(e for e in events if e.type == "flow.failed")
        assert failed.data["flow"] == "prices" and failed.data["code"] == "flow_timeout"
        assert len([r for r in fake_llm.requests if r["model"] == "fake-model"]) == 1
        assert events[-1].data["status"] == "completed"
        assert events[-2].data["text"] and events[-2].data["usage"] is not None
