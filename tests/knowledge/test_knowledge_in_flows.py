"""A bot's knowledge through the API and in its answers: the index must exist before the bot is
activated, uploads ingest in a background job, answers cite what they were given, and an index
that disappears is reported, never silently skipped."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chinwag.conversations.models import Message
from chinwag.db.base import utcnow
from chinwag.knowledge.stores import open_store
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask, assert_problem, finished_job

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "ingest"
KNOWLEDGE = {"store": "lancedb", "index": "shop-docs", "mode": "hybrid", "top_k": 2}
BOT: dict[str, Any] = {
    "id": "shop",
    "name": "Shop",
    "knowledge": KNOWLEDGE,
    "flows": {
        "main": {
            "system": "Notes:{% for s in sources %}\n[{{ s.title }}] {{ s.text }}{% endfor %}",
            "template": "{{ message }}",
        }
    },
}


async def _upload(client: httpx.AsyncClient, *names: str) -> dict[str, Any]:
    files = [("files", (n, (SAMPLES / n).read_bytes())) for n in names]
    accepted = await client.post("/v1/bots/shop/knowledge/documents", files=files)
    assert accepted.status_code == 202, accepted.text
    return await finished_job(client, accepted.json()["status_url"])


async def test_knowledge_from_upload_to_cited_answer(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    async with run_server(make_settings) as server:
        client = server.client
        refused = await client.post("/v1/bots", json=BOT)
        assert refused.status_code == 422
        assert [(p["path"], p["code"]) for p in refused.json()["problems"]] == [
            ("knowledge.index", "knowledge_index_not_found")
        ]
        assert "chinwag knowledge create" in refused.json()["problems"][0]["message"]
        assert "POST /v1/knowledge/indexes" in refused.json()["problems"][0]["hint"]

        created = await client.post("/v1/knowledge/indexes", json={"knowledge": KNOWLEDGE})
        assert created.status_code == 201 and created.json()["dimension"] == 384
        again = await client.post("/v1/knowledge/indexes", json={"knowledge": KNOWLEDGE})
        assert again.status_code == 409 and again.json()["code"] == "knowledge_index_exists"

        saved = await client.post("/v1/bots", json=BOT)
        assert saved.status_code == 201
        assert [w["code"] for w in saved.json()["warnings"]] == ["knowledge_index_empty"]

        started = utcnow()
        job = await _upload(client, "sample.md", "sample.html", "catalogue.csv", "broken.pdf")
        assert job["status"] == "completed", job
        summary = job["summary"]
        assert sorted(summary["added"]) == ["catalogue.csv", "sample.html", "sample.md"]
        assert [f["source"] for f in summary["failed"]] == ["broken.pdf"]
        assert job["progress"]["files_total"] == 4 and job["progress"]["chunks_embedded"] > 0

        again_job = await _upload(client, "sample.md")
        assert again_job["summary"]["unchanged"] == ["sample.md"]
        missing = await client.get("/v1/knowledge/jobs/no-such-job")
        assert assert_problem(missing, 404, "knowledge_job_not_found")["hint"]

        index = (await client.get("/v1/bots/shop/knowledge")).json()
        assert sorted(index["documents"]) == ["catalogue.csv", "sample.html", "sample.md"]
        documents = index["documents"].values()
        assert sum(d["chunks"] for d in documents) == index["chunks"] == summary["chunks"]
        assert all(len(d["checksum"]) == 64 for d in documents)
        assert all(started <= datetime.fromisoformat(d["added_at"]) <= utcnow() for d in documents)
        hits = (
            await client.post(
                "/v1/bots/shop/knowledge/search",
                json={"query": "steady twelve degrees", "mode": "keyword"},
            )
        ).json()
        assert hits[0]["document"] == "sample.html"

        events = await ask(client, "How cold does the cellar stay all year?", bot="shop")
        retrieval = [e.data for e in events if e.type == "retrieval.completed"]
        assert len(retrieval) == 1 and retrieval[0]["flow"] == "main"
        sources = retrieval[0]["sources"]
        assert sources and sources[0]["document"] == "sample.html"
        completed = next(e.data for e in events if e.type == "message.completed")
        assert completed["sources"] == sources
        system = fake_llm.requests[-1]["messages"][0]["content"]
        assert "twelve degrees" in system and "Home Shop Contact Login" not in system
        async with server.db.read() as conn:
            citations = (
                await conn.execute(select(Message.citations).where(Message.role == "assistant"))
            ).scalar_one()
        assert citations == sources

        deleted = await client.delete("/v1/bots/shop/knowledge/documents/sample.md")
        assert deleted.status_code == 204
        missing = await client.delete("/v1/bots/shop/knowledge/documents/sample.md")
        assert missing.status_code == 404
        assert missing.json()["code"] == "knowledge_document_not_found"


async def test_an_index_dropped_under_a_bot_is_reported(
    make_settings: Settings, fake_llm: FakeLLM
) -> None:
    async with run_server(make_settings) as server:
        client = server.client
        await client.post("/v1/knowledge/indexes", json={"knowledge": KNOWLEDGE})
        assert (await client.post("/v1/bots", json=BOT)).status_code == 201
        assert (await client.get("/readyz")).status_code == 200

        from chinwag.config.bot import KnowledgeConfig

        store = open_store(KnowledgeConfig.model_validate(KNOWLEDGE), make_settings)
        await store.drop("shop-docs")
        await store.aclose()

        events = await ask(client, "anything", bot="shop")
        error = next(e.data for e in events if e.type == "error")
        assert error["code"] == "knowledge_index_not_found"
        assert "shop-docs" in error["message"] and "lancedb" in error["message"]
        assert events[-1].data["status"] == "failed"

        ready = await client.get("/readyz")
        assert ready.status_code == 503
        problems = ready.json()["checks"]["knowledge"]["bots"]["shop"]
        assert problems[0]["code"] == "knowledge_index_not_found"

        upload = await client.post(
            "/v1/bots/shop/knowledge/documents",
            files=[("files", ("a.txt", b"hello"))],
        )
        assert upload.status_code == 503 and upload.json()["code"] == "knowledge_index_not_found"


async def test_a_restart_with_a_missing_index_names_the_bot_and_serves_the_others(
    make_settings: Settings, fake_llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    """At start a server opens every active bot's index (so no first message waits for it);
    an index that is gone is logged with its bot, and every other bot is prepared and served."""
    async with run_server(make_settings) as server:
        await server.client.post("/v1/knowledge/indexes", json={"knowledge": KNOWLEDGE})
        assert (await server.client.post("/v1/bots", json=BOT)).status_code == 201
    from chinwag.config.bot import KnowledgeConfig

    store = open_store(KnowledgeConfig.model_validate(KNOWLEDGE), make_settings)
    await store.drop("shop-docs")
    await store.aclose()

    with caplog.at_level(logging.WARNING, logger="chinwag.app"):
        async with run_server(make_settings) as server:
            warnings = [r.getMessage() for r in caplog.records if r.name == "chinwag.app"]
            assert any(
                "could not prepare bot shop" in w and "knowledge_index_not_found" in w
                for w in warnings
            ), warnings
            events = await ask(server.client, "hello")  # the demo bot, prepared after it
            assert events[-1].data["status"] == "completed"
