"""What /readyz checks: the database and its schema, each active bot's LLM and embedding
providers, and its knowledge index (the event log and generations report their own)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sqlalchemy import text
from yarl import URL

from chinwag.bots.index_check import index_problems
from chinwag.bots.service import BotVersion, list_bots
from chinwag.config.bot import BotConfig
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.knowledge.runtime import KnowledgeStores
from chinwag.providers.registry import llm_server_url
from chinwag.settings import Settings

PROBE_SECONDS = 2.0


async def probe(client: aiohttp.ClientSession, base_url: str) -> dict[str, Any]:
    """Whether an OpenAI-compatible server answers GET {base}/models (any non-5xx status).

    On aiohttp, the LLM client's own library: a worker loads no second HTTP client for this."""
    shown = without_password(base_url)  # /readyz answers anyone
    try:
        async with client.get(f"{base_url}/models") as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return {"ok": False, "url": shown, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": status < 500, "url": shown, "status": status}


def without_password(url: str) -> str:
    """The URL with a password in it (`http://user:secret@host`) replaced by `***`."""
    parsed = URL(url)
    if not parsed.password:
        return url
    return str(parsed.with_password("***"))


async def check_bots(settings: Settings, bots: list[tuple[str, BotConfig]]) -> dict[str, Any]:
    """Per bot: its LLM servers (main, flows, router) and embedding server, probed at once."""
    urls: dict[str, set[str]] = {}
    embedded: dict[str, list[str]] = {}
    for bot_id, config in bots:
        found: set[str] = set()
        local: list[str] = []
        bot_url = llm_server_url(settings, config.llm)
        if bot_url:
            found.add(bot_url.rstrip("/"))
        else:
            local.append("llm: embedded model")
        overrides = [flow.llm for flow in config.flows.values()]
        if config.router.strategy == "llm":
            overrides.append(config.router.llm)
        for llm in overrides:  # a flow's or the router's own model; unset fields inherit
            if llm is not None and (url := llm_server_url(settings, llm.over(config.llm))):
                found.add(url.rstrip("/"))
        if config.embedding.provider == "openai":
            url = config.embedding.base_url or settings.llm_base_url
            if url:
                found.add(url.rstrip("/"))
        else:
            local.append(f"embedding: {config.embedding.model} (embedded)")
        urls[bot_id], embedded[bot_id] = found, local
    every = sorted({u for found in urls.values() for u in found})
    timeout = aiohttp.ClientTimeout(total=PROBE_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        answers = await asyncio.gather(*(probe(client, u) for u in every))
        results = dict(zip(every, answers, strict=True))
    return {
        bot_id: {
            "ok": all(results[u]["ok"] for u in found),
            "providers": [results[u] for u in sorted(found)],
            "embedded": embedded[bot_id],
        }
        for bot_id, found in urls.items()
    }


async def database_and_bots(
    db: Database, settings: Settings, knowledge: KnowledgeStores
) -> dict[str, Any]:
    """The checks of the database, the schema, the active bots' providers and their indexes."""
    checks: dict[str, Any] = {}
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
        current, head = await migrate.current_revision(db), migrate.head_revision()
        checks["schema"] = {"ok": current == head, "current": current, "head": head}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    if checks["database"]["ok"]:
        try:
            async with db.read() as conn:
                bots = await list_bots(conn)
            per_bot = await check_bots(settings, [(b.id, b.config) for b in bots])
            checks["bots"] = {"ok": all(c["ok"] for c in per_bot.values()), "bots": per_bot}
            checks["knowledge"] = await _knowledge_check(knowledge, bots)
        except Exception as exc:  # a bot that cannot be read is a reason not to be ready
            checks["bots"] = {"ok": False, "error": str(exc)}
    return checks


async def _knowledge_check(knowledge: KnowledgeStores, bots: list[BotVersion]) -> dict[str, Any]:
    """Every active bot's knowledge index exists and fits its embedding model."""
    failing = {}
    for bot in bots:
        problems = await index_problems(bot.config, knowledge)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            failing[bot.id] = [
                {"code": p.code, "message": p.message, "hint": p.hint} for p in errors
            ]
    return {"ok": not failing, "bots": failing}
