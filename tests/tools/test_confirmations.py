"""A tool that changes something waits for the visitor: the stream asks (`tool.confirmation`),
nothing is sent until a message confirms it, and the call is made once whatever happens to
that confirmation (sent from two tabs at once, retried, its stream resumed); a cancel makes no
call. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from chinwag.bots.validation import validate_document
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import ToolAction, ToolActionDecision
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, run_server
from tests.helpers import ROOT, ask
from tests.sse_client import read_all
from tests.tools.shop import FakeShop

pytestmark = pytest.mark.timeout(60)
CANCEL_PATH = "/echo/orders/10023/cancel"
TURN = {"user_id": "kari", "session_id": "cancel-chat"}


@pytest.fixture
def shop() -> Iterator[FakeShop]:
    with FakeShop() as running:
        yield running


def cancel_bot(shop: FakeShop) -> BotConfig:
    return BotConfig.model_validate(
        {
            "id": "vinhuset",
            "name": "Vinhuset",
            "router": {"strategy": "keywords"},
            "allowed_hosts": ["127.0.0.1"],
            "tools": {
                "cancel_order": {
                    "method": "POST",  # confirm: true by default
                    "url": shop.base_url + "/echo/orders/{order}/cancel",
                    "arguments": {
                        "type": "object",
                        "properties": {"order": {"type": "string", "pattern": "^[0-9]{5}$"}},
                        "required": ["order"],
                    },
                    "allow_private": True,
                }
            },
            "flows": {
                "main": {"template": "{{ message }}"},
                "cancel": {
                    "keywords": ["cancel", "kansellere"],
                    "tool": "cancel_order",
                    "arguments": {"order": {"pattern": r"\b(\d{5})\b"}},
                    "confirm_question": {
                        "en": "Shall I cancel order {order}?",
                        "nb": "Skal jeg kansellere bestilling {order}?",
                    },
                    "confirm_cancelled": {"en": "All right: order kept."},
                    "template": "{% if norwegian %}Bestilling {{ tool.arguments.order }} er "
                    "kansellert.{% else %}Order {{ tool.arguments.order }} is cancelled."
                    "{% endif %}",
                    "generate": False,
                    "verbatim_answer": True,
                },
            },
        }
    )


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


async def _asked(server: RunningServer, text: str = "Cancel order 10023") -> dict[str, Any]:
    events = await ask(server.client, text, **TURN)
    (asked,) = [e.data for e in events if e.type == "tool.confirmation"]
    assert not [e for e in events if e.type == "tool.started"]
    assert _text(events) == asked["text"]
    return asked


def _decision(action_id: str, decision: str) -> dict[str, Any]:
    return {**TURN, "confirm": {"action_id": action_id, "decision": decision}}


async def test_nothing_is_sent_until_confirmed_and_then_once(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=cancel_bot(shop)) as server:
        asked = await _asked(server)
        assert asked["text"] == "Shall I cancel order 10023?"
        assert asked["tool"] == "cancel_order" and asked["arguments"] == {"order": "10023"}
        assert shop.hits(CANCEL_PATH) == 0

        # Two tabs confirm at the same moment: one call, one answer saying it, one "already".
        body = _decision(asked["action_id"], "confirm")
        tabs = await asyncio.gather(
            ask(server.client, "Confirm", **body), ask(server.client, "Confirm", **body)
        )
        assert shop.hits(CANCEL_PATH) == 1
        answers = sorted(_text(events) for events in tabs)
        assert answers[0] == "Order 10023 is cancelled."
        assert answers[1] in ("That is already done.", "That is already being done.")
        started = [e for events in tabs for e in events if e.type == "tool.started"]
        assert len(started) == 1

        # The same confirmation retried (its Idempotency-Key), and its stream read again.
        retried = [
            await server.client.post(
                "/v1/bots/vinhuset/messages",
                json={"message": "Confirm", **body},
                headers={"idempotency-key": "tab-3", "accept": "application/json"},
            )
            for _ in range(2)
        ]
        assert [r.json()["replayed"] for r in retried] == [False, True]
        stream_url = retried[0].json()["stream_url"]
        async with server.client.stream("GET", stream_url + "?after=0") as resumed:
            replay = await read_all(resumed)
        assert _text(replay) == "That is already done."
        assert shop.hits(CANCEL_PATH) == 1

        async with server.db.read() as conn:
            decisions = (
                await conn.execute(select(func.count()).select_from(ToolActionDecision))
            ).scalar_one()
            action = (await conn.execute(select(ToolAction))).one()
        assert decisions == 1
        assert action.status == "done" and action.arguments is None  # not kept once decided
        assert action.outcome["status"] == "completed" and action.outcome["http_status"] == 200

        # Erasing the conversation takes its actions and their decisions with it.
        erased = await server.client.delete(f"/v1/bots/vinhuset/sessions/{TURN['session_id']}")
        assert erased.status_code == 200, erased.text
        async with server.db.read() as conn:
            left = [
                (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (ToolAction, ToolActionDecision)
            ]
        assert left == [0, 0]


async def test_cancel_makes_no_call_and_a_later_confirm_none_either(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=cancel_bot(shop)) as server:
        asked = await _asked(server)
        kept = await ask(server.client, "Cancel", **_decision(asked["action_id"], "cancel"))
        assert _text(kept) == "All right: order kept."
        late = await ask(server.client, "Confirm", **_decision(asked["action_id"], "confirm"))
        assert _text(late) == "That was already cancelled: nothing was done."
        assert shop.hits(CANCEL_PATH) == 0 and fake_llm.requests == []

        # In Norwegian, asked and answered in the language of the request.
        nb = await _asked(server, "Kan du kansellere bestillingen min 10023?")
        assert nb["text"] == "Skal jeg kansellere bestilling 10023?"
        done = await ask(server.client, "Bekreft", **_decision(nb["action_id"], "confirm"))
        assert _text(done) == "Bestilling 10023 er kansellert."


async def test_an_action_of_another_session_is_not_found(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop
) -> None:
    async with run_server(make_settings, bot=cancel_bot(shop)) as server:
        asked = await _asked(server)
        stranger = {**_decision(asked["action_id"], "confirm"), "session_id": "someone-else"}
        events = await ask(server.client, "Confirm", **stranger)
        (error,) = [e.data for e in events if e.type == "error"]
        assert error["code"] == "tool_action_not_found"
        assert events[-1].data["status"] == "failed"
        assert shop.hits(CANCEL_PATH) == 0


def _docs_yaml(heading: str) -> dict[str, Any]:
    text = (ROOT / "docs" / "tools.md").read_text()
    start = text.index("```yaml", text.index(heading)) + len("```yaml")
    document: dict[str, Any] = yaml.safe_load(text[start : text.index("```", start)])
    return document


def test_the_docs_examples_of_confirmations_and_limits_validate() -> None:
    bot = {
        "id": "vinbutikken",
        "name": "Vinbutikken",
        "router": {"strategy": "keywords"},
        "allowed_hosts": ["api.shop.example"],
        **_docs_yaml("## Confirmations"),
        **_docs_yaml("## Limits"),
    }
    bot["flows"]["main"] = {"template": "{{ message }}"}
    report = validate_document(bot)
    assert report.ok and report.problems == [], report.problems
    config = BotConfig.model_validate(bot)
    assert config.tools["cancel_order"].changes_something  # a POST: by default
    assert config.limits is not None and config.limits.tool_calls_per_user == "30/minute"
