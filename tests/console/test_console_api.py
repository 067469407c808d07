"""The API behind the console, with API keys and with console sessions (cookie + CSRF)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.helpers import JSON, wait_finished

BOT = "vinhuset"
VALID = {
    "id": BOT,
    "name": "Vinhuset",
    "flows": {
        "main": {"system": "You help the customers of a wine shop.", "template": "{{ message }}"}
    },
}


async def _send(server: RunningServer, text: str, user: str, bot: str = BOT) -> dict[str, str]:
    response = await server.client.post(
        f"/v1/bots/{bot}/messages", json={"message": text, "user_id": user}, headers=JSON
    )
    assert response.status_code == 202, response.text
    ids: dict[str, str] = response.json()
    await wait_finished(server.client, ids["assistant_message_id"])
    return ids


async def test_filters_narrow_the_conversations(server: RunningServer, fake_llm: FakeLLM) -> None:
    async with server.db.write() as conn:
        await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
    wine = await _send(server, "Any Riesling?", "alice")
    await _send(server, "Open on Saturday?", "bob")
    await _send(server, "Hello", "carol", bot="other")
    fake_llm.behaviour.fail_status = 500
    failed = await _send(server, "This one fails", "dave")
    fake_llm.behaviour.fail_status = None
    await server.client.put(
        f"/v1/messages/{wine['assistant_message_id']}/feedback",
        json={"rating": -1, "comment": "no, we have three"},
    )

    async def sessions(**params: str) -> list[str]:
        response = await server.client.get("/v1/conversations", params=params)
        assert response.status_code == 200, response.text
        return sorted(item["session_id"] for item in response.json()["items"])

    assert len(await sessions()) == 4
    assert len(await sessions(bot_id=BOT)) == 3
    assert await sessions(rating="down") == [wine["session_id"]]
    assert await sessions(has_comment="true") == [wine["session_id"]]
    assert await sessions(q="riesl") == [wine["session_id"]]
    assert await sessions(user_id="alice") == [wine["session_id"]]
    assert await sessions(status="failed") == [failed["session_id"]]
    assert await sessions(status="interrupted") == []
    assert len(await sessions(flow="main")) == 4  # a failed run of main is recorded too
    assert await sessions(flow="statistics") == []
    assert len(await sessions(version="1")) == 4
    assert await sessions(version="2") == []
    assert len(await sessions(no_sources="true")) == 3  # no knowledge: complete answers only
    assert await sessions(since="2020-01-01", until="2020-01-02") == []
    page = (await server.client.get("/v1/conversations", params={"limit": 3})).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = (
        await server.client.get(
            "/v1/conversations", params={"limit": 3, "cursor": page["next_cursor"]}
        )
    ).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    paged = [i["session_id"] for i in page["items"] + rest["items"]]
    assert sorted(paged) == await sessions()
    first = next(
        i
        for i in (await server.client.get("/v1/conversations")).json()["items"]
        if i["session_id"] == wine["session_id"]
    )
    assert first["first_message"] == "Any Riesling?" and first["thumbs_down"] == 1


async def test_transcript_has_route_flow_runs_usage_ttft_version_feedback(
    server: RunningServer,
) -> None:
    ids = await _send(server, "Any Riesling?", "alice")
    await server.client.put(
        f"/v1/messages/{ids['assistant_message_id']}/feedback", json={"rating": 1}
    )
    response = await server.client.get(f"/v1/bots/{BOT}/sessions/{ids['session_id']}/transcript")
    assert response.status_code == 200, response.text
    body = response.json()
    question, answer = body["messages"]
    assert (body["user_id"], question["content"]) == ("alice", "Any Riesling?")
    assert answer["status"] == "complete" and answer["bot_version"] == 1
    assert answer["ttft_ms"] > 0 and answer["total_ms"] >= answer["ttft_ms"]
    assert answer["usage"]["completion_tokens"] > 0
    assert answer["route"]["flows"] == []
    assert [r["flow"] for r in answer["flow_runs"]] == ["main"]
    assert answer["feedback"] == [
        {
            "user_id": "alice",
            "rating": 1,
            "comment": None,
            "updated_at": answer["feedback"][0]["updated_at"],
        }
    ]
    missing = await server.client.get(f"/v1/bots/{BOT}/sessions/nope/transcript")
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"


async def test_export_jsonl_and_csv_of_the_filtered_set(server: RunningServer) -> None:
    disliked = await _send(server, "Any Riesling?", "alice")
    await _send(server, "Open on Saturday?", "bob")
    await server.client.put(
        f"/v1/messages/{disliked['assistant_message_id']}/feedback", json={"rating": -1}
    )
    jsonl = await server.client.get("/v1/conversations/export?rating=down&format=jsonl")
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in jsonl.headers["content-disposition"]
    rows = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [(r["session_id"], r["position"], r["role"]) for r in rows] == [
        (disliked["session_id"], 1, "user"),
        (disliked["session_id"], 2, "assistant"),
    ]
    assert rows[1]["ttft_ms"] > 0 and rows[1]["completion_tokens"] > 0
    text = (await server.client.get("/v1/conversations/export?format=csv")).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 4 and {r["user_id"] for r in table} == {"alice", "bob"}


async def test_analytics_counts_what_happened(server: RunningServer) -> None:
    first = await _send(server, "Any Riesling?", "alice")
    await _send(server, "And red wine?", "alice")
    await _send(server, "Open on Saturday?", "bob")
    await server.client.put(
        f"/v1/messages/{first['assistant_message_id']}/feedback", json={"rating": -1}
    )
    response = await server.client.get("/v1/analytics", params={"bot_id": BOT})
    assert response.status_code == 200, response.text
    charts = response.json()["charts"]
    (day,) = charts["activity"]
    assert (day["messages"], day["conversations"], day["users"]) == (6, 3, 2)
    (latency,) = charts["latency"]
    assert latency["answers"] == 3 and 0 < latency["ttft_p50"] <= latency["ttft_p95"]
    assert latency["total_p50"] <= latency["total_p95"]
    assert charts["tokens"][0]["completion_tokens"] > 0
    assert [(f["flow"], f["runs"], f["failed"]) for f in charts["flows"]] == [("main", 3, 0)]
    assert charts["routes"] == [{"flows": "main only", "answers": 3}]
    assert [(f["up"], f["down"], f["up_rate"]) for f in charts["feedback"]] == [(0, 1, 0.0)]
    assert charts["sources"][0]["no_sources_share"] == 1.0
    assert charts["errors"] == []
    empty = await server.client.get("/v1/analytics?since=2020-01-01&until=2020-01-31")
    assert all(rows == [] for rows in empty.json()["charts"].values())
    bad = await server.client.get("/v1/analytics?since=2020-02-01&until=2020-01-01")
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"


async def test_yaml_problems_come_with_their_lines_and_versions_diff(
    server: RunningServer,
) -> None:
    # The test bot reads a flow it lacks (an error); a valid configuration becomes version 2.
    assert (await server.client.put(f"/v1/bots/{BOT}", json=VALID)).json()["version"] == 2
    text = (await server.client.get(f"/v1/bots/{BOT}/yaml")).text
    assert text.startswith("id: vinhuset\n")
    ok = (await server.client.post("/v1/bots/validate-yaml", json={"yaml": text})).json()
    assert ok["ok"] and ok["config"]["id"] == BOT, ok
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("name:"))
    broken = "\n".join([*lines[:at], "colour: red", *lines[at:]])
    checked = (await server.client.post("/v1/bots/validate-yaml", json={"yaml": broken})).json()
    assert not checked["ok"] and checked["config"] is None
    problem = next(p for p in checked["problems"] if "colour" in p["path"])
    assert problem["line"] == at + 1 and problem["severity"] == "error" and problem["hint"]
    syntax = (await server.client.post("/v1/bots/validate-yaml", json={"yaml": "id: [x\n"})).json()
    assert syntax["problems"][0]["code"] == "yaml_syntax_error" and syntax["problems"][0]["line"]
    renamed = ok["config"] | {"name": "Vinhuset Bergen"}
    assert (await server.client.put(f"/v1/bots/{BOT}", json=renamed)).json()["version"] == 3
    diff = (await server.client.get(f"/v1/bots/{BOT}/diff?old=2")).json()
    assert diff["new"] == 3 and "-name: Vinhuset\n+name: Vinhuset Bergen" in diff["diff"]
    first = (await server.client.get(f"/v1/bots/{BOT}/yaml?version=1")).text
    assert "smalltalk" in first and "smalltalk" not in text


async def test_doctor_over_http(server: RunningServer) -> None:
    checks = (await server.client.get("/v1/doctor")).json()
    names = [c["name"] for c in checks]
    assert "messages without session" in names and all(c["ok"] for c in checks)


async def test_console_session_cookie_csrf_and_revocation(server: RunningServer) -> None:
    async with server.db.write() as conn:
        secret = await create_key(conn, kind="secret", name="s", bot_id=BOT)
        publishable = await create_key(
            conn, kind="publishable", name="p", bot_id=BOT, allowed_origins=["https://a.example"]
        )
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        refused = await browser.post("/admin/session", json={"key": publishable.key})
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        wrong = await browser.post("/admin/session", json={"key": "cw_sk_wrong-key"})
        assert wrong.status_code == 401
        signed = await browser.post("/admin/session", json={"key": secret.key})
        assert signed.status_code == 200, signed.text
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
        session = signed.json()
        assert (session["kind"], session["bot_id"]) == ("secret", BOT)
        assert (await browser.get(f"/v1/bots/{BOT}")).status_code == 200
        assert (await browser.get("/v1/bots/other/versions")).status_code == 404
        # A change without the CSRF token is refused; with it, it goes through.
        no_token = await browser.delete(f"/v1/bots/{BOT}/users/nobody")
        assert no_token.status_code == 403 and no_token.json()["code"] == "csrf_token_invalid"
        wrong_token = await browser.delete(
            f"/v1/bots/{BOT}/users/nobody", headers={"x-csrf-token": "0" * 64}
        )
        assert wrong_token.status_code == 403
        with_token = await browser.delete(
            f"/v1/bots/{BOT}/users/nobody", headers={"x-csrf-token": session["csrf_token"]}
        )
        assert with_token.status_code == 404  # past CSRF: there is no such user
        # Revoking the key ends the session.
        assert (await server.client.delete(f"/v1/keys/{secret.info.id}")).status_code == 200
        ended = await browser.get(f"/v1/bots/{BOT}")
        assert ended.status_code == 401 and "revoked" in ended.json()["detail"]


async def test_sign_out_ends_the_session_on_the_server(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as browser:
        session = (await browser.post("/admin/session", json={"key": server.admin_key})).json()
        value = browser.cookies["chinwag_console"]
        assert (await browser.delete("/admin/session")).status_code == 403
        out = await browser.delete(
            "/admin/session", headers={"x-csrf-token": session["csrf_token"]}
        )
        assert out.status_code == 204
    async with httpx.AsyncClient(
        base_url=server.base_url, cookies={"chinwag_console": value}
    ) as replay:
        response = await replay.get("/v1/conversations")
        assert response.status_code == 401


async def test_missing_front_end_libraries_name_make_install(
    make_settings: Settings, tmp_path: Path
) -> None:
    settings = make_settings.model_copy(update={"console_node_modules": tmp_path / "none"})
    async with run_server(settings) as server, httpx.AsyncClient(base_url=server.base_url) as web:
        page = await web.get("/admin/conversations")
        assert page.status_code == 503 and "make install" in page.text
        vendor = await web.get("/admin/vendor/preact.mjs")
        assert vendor.status_code == 503 and vendor.json()["code"] == "console_assets_missing"


async def test_the_console_page_and_its_libraries_are_served(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as web:
        page = await web.get("/admin/conversations/vinhuset/some-session")
        assert page.status_code == 200 and '<script type="module"' in page.text
        assert page.headers["x-frame-options"] == "DENY"
        for name in ("preact.mjs", "hooks.mjs", "htm.mjs", "uPlot.esm.js", "uPlot.min.css"):
            assert (await web.get(f"/admin/vendor/{name}")).status_code == 200, name
        assert (await web.get("/admin/vendor/package.json")).status_code == 404
        assert (await web.get("/admin/assets/app.js")).status_code == 200
