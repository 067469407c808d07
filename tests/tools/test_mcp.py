"""MCP servers: a real server built with the SDK (tests/tools/mcp_shop.py), over streamable HTTP
on 127.0.0.1 and as a stdio subprocess. Its tools are listed at activation (their schemas
kept with the version), called by function calling and by a routed flow, and a server that
does not answer or lacks a tool is reported with its path (SQLite and PostgreSQL)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from starlette.applications import Starlette

from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, ScriptedCall
from chinwag.testing.server import ThreadedServer, free_port
from tests.conftest import run_server
from tests.helpers import ROOT, ask, chinwag
from tests.tools.mcp_shop import shop_server

pytestmark = pytest.mark.timeout(90)
CHAT = {"user_id": "kari", "session_id": "mcp-chat"}  # a Confirm answers in its session
SHOP_SCRIPT = str(Path(__file__).with_name("mcp_shop.py"))


class McpShop(ThreadedServer):
    """The shop's MCP server over streamable HTTP at `url`; `sessions`: the MCP session ids
    its requests carried, in order."""

    lifespan = "on"
    graceful_seconds = 1  # a kept session holds a stream open: do not wait 10 s for it

    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.sessions: list[str] = []

    def app(self) -> Starlette:
        app = shop_server().streamable_http_app()
        app.add_middleware(_SeenSessions, record=self.sessions.append)
        return app

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/mcp"

    @property
    def port(self) -> int:
        return self._port


class _SeenSessions:
    """ASGI middleware: records the `mcp-session-id` of each POST."""

    def __init__(self, app: Any, record: Any) -> None:
        self.app, self.record = app, record

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            session = dict(scope["headers"]).get(b"mcp-session-id")
            if session is not None:
                self.record(session.decode())
        await self.app(scope, receive, send)


@pytest.fixture
def mcp_shop() -> Iterator[McpShop]:
    with McpShop() as running:
        yield running


def mcp_bot(server: dict[str, Any], **main: Any) -> dict[str, Any]:
    """vinhuset with the shop's MCP server: main may call its tools, a flow calls one."""
    return {
        "id": "vinhuset",
        "name": "Vinhuset",
        "router": {"strategy": "keywords"},
        "allowed_hosts": ["127.0.0.1"],
        "mcp_servers": {
            "shop": {
                **server,
                "tools": {"order_status": {}, "cancel_order": {}, "warehouse": {}},
            }
        },
        "flows": {
            "main": {
                "template": "{{ message }}",
                "tools": ["order_status", "cancel_order", "warehouse"],
                **main,
            },
            "orders": {
                "keywords": ["bestillingen"],
                "tool": "order_status",
                "arguments": {"order": {"pattern": r"\b(\d{5})\b"}},
                "template": "Bestilling {{ tool.arguments.order }}: {{ tool.result.status }}",
                "generate": False,
                "verbatim_answer": True,
            },
        },
    }


def _done(events: list[Any]) -> list[dict[str, Any]]:
    return [e.data for e in events if e.type == "tool.completed"]


def _text(events: list[Any]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")


async def test_a_streamable_http_server_is_listed_then_called(
    make_settings: Settings, fake_llm: FakeLLM, mcp_shop: McpShop
) -> None:
    async with run_server(make_settings, seed_demo=False) as server:
        saved = await server.client.put(
            "/v1/bots/vinhuset", json=mcp_bot({"url": mcp_shop.url, "allow_private": True})
        )
        assert saved.status_code == 200, saved.text
        # The listed schemas, descriptions and read-only hints are kept with the version.
        version = (await server.client.get("/v1/bots/vinhuset/versions/1")).json()
        tools = version["config"]["mcp_servers"]["shop"]["tools"]
        listed = tools["order_status"]["listed"]
        assert listed["arguments"]["required"] == ["order"]
        assert listed["description"].startswith("An order's status")
        assert listed["read_only"] is True and tools["cancel_order"]["listed"]["read_only"] is None
        # Offered to the model with the server's description and schema.
        fake_llm.behaviour.tool_turns = []
        await ask(server.client, "Hello?")
        (offered,) = [
            t for t in fake_llm.requests[-1]["tools"] if t["function"]["name"] == "order_status"
        ]
        assert offered["function"]["description"].startswith("An order's status")
        assert offered["function"]["parameters"]["required"] == ["order"]

        # Function calling: a read-only tool is called, one that changes something waits for
        # the visitor's confirmation, and a failing one is told to the model.
        fake_llm.behaviour.tool_turns = [
            [
                ScriptedCall("order_status", {"order": "10023"}),
                ScriptedCall("cancel_order", {"order": "10023"}),
                ScriptedCall("warehouse"),
                ScriptedCall("order_status", {"order": 10023}),  # not a string: refused
            ]
        ]
        events = await ask(server.client, "Where is order 10023, and cancel it?", **CHAT)
        done = {d["call_id"]: d for d in _done(events)}
        assert sorted(done) == ["call_0_0", "call_0_2", "call_0_3"]  # cancel_order: held
        assert [done[f"call_0_{i}"]["code"] for i in (0, 2, 3)] == [
            None,
            "tool_mcp_error",
            "tool_arguments_invalid",
        ]
        assert done["call_0_0"]["bytes"] > 0 and done["call_0_0"]["attempts"] == 1
        (asked,) = [e.data for e in events if e.type == "tool.confirmation"]
        assert (asked["flow"], asked["tool"]) == ("main", "cancel_order")
        assert events[-1].data["status"] == "completed"
        assert len(fake_llm.requests) == 2  # the model is not asked again until a Confirm

        confirm = {**CHAT, "confirm": {"action_id": asked["action_id"], "decision": "confirm"}}
        events = await ask(server.client, "Confirm", **confirm)
        (made,) = _done(events)
        assert (made["tool"], made["status"]) == ("cancel_order", "completed")
        told = [orjson.loads(m["content"]) for m in fake_llm.requests[-1]["messages"][-4:]]
        assert told[0] == {
            "result": {"order": "10023", "status": "shipped", "delivery": "2026-12-09"}
        }
        assert "warehouse" in told[1]["error"]["message"]
        assert told[3] == {"result": {"result": "order 10023 cancelled"}}  # structured content
        assert "order 10023 cancelled" in _text(events)
        assert events[-1].data["status"] == "completed"

        # A routed flow calls it too, with no LLM.
        fake_llm.requests.clear()
        events = await ask(server.client, "Hvor er bestillingen min 10024?")
        assert _text(events) == "Bestilling 10024: packing"
        assert [d["status"] for d in _done(events)] == ["completed"]
        assert fake_llm.requests == []


async def test_calls_share_one_kept_session_and_a_restarted_server_is_reconnected(
    make_settings: Settings, fake_llm: FakeLLM, mcp_shop: McpShop
) -> None:
    """The bot keeps its session to the server open between calls; when the server restarts
    (its sessions gone), a read-only call opens a new session and still answers."""
    async with run_server(make_settings, seed_demo=False) as server:
        bot = mcp_bot({"url": mcp_shop.url, "allow_private": True})
        assert (await server.client.put("/v1/bots/vinhuset", json=bot)).status_code == 200
        listing = set(mcp_shop.sessions)  # activation lists the tools on a connection of its own
        for _ in range(3):
            events = await ask(server.client, "Hvor er bestillingen min 10024?")
            assert _text(events) == "Bestilling 10024: packing"
        calls = [s for s in mcp_shop.sessions if s not in listing]
        assert len(set(calls)) == 1 and len(calls) >= 3, calls

        mcp_shop.stop()
        with McpShop(port=mcp_shop.port) as again:
            events = await ask(server.client, "Hvor er bestillingen min 10023?")
            assert _text(events) == "Bestilling 10023: shipped", _done(events)
            assert _done(events)[0]["attempts"] == 2  # the kept session, then a new one
            assert len(set(again.sessions) - set(calls)) == 1  # one new session


async def test_a_server_that_does_not_answer_or_lacks_a_tool_is_not_activated(
    make_settings: Settings, fake_llm: FakeLLM, mcp_shop: McpShop
) -> None:
    async with run_server(make_settings, seed_demo=False) as server:
        down = mcp_bot({"url": f"http://127.0.0.1:{free_port()}/mcp", "allow_private": True})
        refused = await server.client.put("/v1/bots/vinhuset", json=down)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert (problem["path"], problem["code"]) == ("mcp_servers.shop", "mcp_server_unreachable")
        assert "tool_unreachable" in problem["message"] and problem["hint"]

        lacking = mcp_bot({"url": mcp_shop.url, "allow_private": True})
        lacking["mcp_servers"]["shop"]["tools"]["stock"] = {"name": "stock_count"}
        refused = await server.client.put("/v1/bots/vinhuset", json=lacking)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert problem["path"] == "mcp_servers.shop.tools.stock"
        assert problem["code"] == "mcp_tool_missing"
        assert "order_status" in problem["hint"]  # what the server has

        private = mcp_bot({"url": mcp_shop.url})  # no allow_private: 127.0.0.1 is refused
        refused = await server.client.put("/v1/bots/vinhuset", json=private)
        codes = {(p["path"], p["code"]) for p in refused.json()["problems"]}
        assert ("mcp_servers.shop.url", "tool_address_refused") in codes
        assert (await server.client.get("/v1/bots/vinhuset")).status_code == 404


async def test_without_the_mcp_extra_a_server_is_refused_with_the_install_hint(
    make_settings: Settings, fake_llm: FakeLLM, mcp_shop: McpShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK is the optional extra chinwag[mcp]: without it (its import fails, as on an
    install without the extra), a bot naming an MCP server is refused with the command that
    installs it, and a bot activated before answers its call with the same code."""
    bot = mcp_bot({"url": mcp_shop.url, "allow_private": True})
    async with run_server(make_settings, seed_demo=False) as server:
        saved = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert saved.status_code == 200, saved.text
        monkeypatch.setitem(sys.modules, "mcp", None)  # `import mcp` now raises ImportError

        refused = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert (problem["path"], problem["code"]) == ("mcp_servers", "mcp_not_installed")
        assert "pip install 'chinwag[mcp]'" in problem["hint"]

        fake_llm.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "10024"})]]
        events = await ask(server.client, "Where is order 10024?")
        (done,) = _done(events)
        assert (done["status"], done["code"]) == ("error", "mcp_not_installed"), done


async def test_a_stdio_server_runs_only_a_program_the_server_allows(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    bot = mcp_bot({"command": [sys.executable, SHOP_SCRIPT]})
    async with run_server(make_settings, seed_demo=False) as server:
        refused = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert refused.status_code == 422, refused.text
        (problem,) = refused.json()["problems"]
        assert problem["code"] == "mcp_server_unreachable"
        assert "mcp_command_not_allowed" in problem["message"]
        assert "CHINWAG_MCP_COMMANDS" in problem["hint"]

    allowed = make_settings.model_copy(update={"mcp_commands": f"{sys.executable}"})
    async with run_server(allowed, seed_demo=False) as server:
        saved = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert saved.status_code == 200, saved.text
        fake_llm.behaviour.tool_turns = [[ScriptedCall("order_status", {"order": "10024"})]]
        events = await ask(server.client, "Where is order 10024?")
        (done,) = _done(events)
        assert done["status"] == "completed", done
        told = orjson.loads(fake_llm.requests[-1]["messages"][-1]["content"])
        assert told["result"]["status"] == "packing"


async def test_chinwag_validate_reports_the_server_and_its_tools(
    database_url: str, tmp_path: Path, mcp_shop: McpShop
) -> None:
    lacking = mcp_bot({"url": mcp_shop.url, "allow_private": True})
    lacking["mcp_servers"]["shop"]["tools"]["stock"] = {}
    lacking["mcp_servers"]["down"] = {
        "url": f"http://127.0.0.1:{free_port()}/mcp",
        "allow_private": True,
        "tools": {"anything": {}},
    }
    path = tmp_path / "vinhuset.yaml"
    path.write_text(yaml.safe_dump(lacking))
    code, out, err = await chinwag(database_url, "validate", "--json", str(path))
    assert code == 1, (out, err)
    (report,) = orjson.loads(out)
    found = {(p["path"], p["code"]) for p in report["problems"]}
    assert found == {
        ("mcp_servers.shop.tools.stock", "mcp_tool_missing"),
        ("mcp_servers.down", "mcp_server_unreachable"),
    }, report


async def test_the_docs_mcp_example_is_listed_and_called(
    make_settings: Settings,
    fake_llm: FakeLLM,
    mcp_shop: McpShop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """docs/tools.md's MCP servers, pointed at the shop's server over HTTP and over stdio."""
    text = (ROOT / "docs" / "tools.md").read_text()
    start = text.index("```yaml", text.index("## MCP servers")) + len("```yaml")
    document = yaml.safe_load(text[start : text.index("```", start)])
    monkeypatch.setenv("SHOP_TOOLS_TOKEN", "t0k3n")
    document["allowed_hosts"] = ["127.0.0.1"]
    document["mcp_servers"]["shop"] |= {"url": mcp_shop.url, "allow_private": True}
    document["mcp_servers"]["cellar"]["command"] = [sys.executable, SHOP_SCRIPT]
    bot = {"id": "vinhuset", "name": "Vinhuset", **document}
    allowed = make_settings.model_copy(update={"mcp_commands": sys.executable})
    fake_llm.behaviour.tool_turns = [
        [
            ScriptedCall("order_status", {"order": "10023"}),
            ScriptedCall("stock", {"wine": "Barolo 2019"}),
            ScriptedCall("bottles", {"wine": "Barolo 2019"}),
        ]
    ]
    async with run_server(allowed, seed_demo=False) as server:
        saved = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert saved.status_code == 200, saved.text
        events = await ask(server.client, "Where is 10023, and is the Barolo in stock?")
        assert [d["status"] for d in _done(events)] == ["completed"] * 3, _done(events)
        told = [orjson.loads(m["content"]) for m in fake_llm.requests[-1]["messages"][-3:]]
        assert told[0]["result"]["status"] == "shipped"
        assert told[1]["result"] == told[2]["result"] == {"wine": "Barolo 2019", "bottles": 7}
