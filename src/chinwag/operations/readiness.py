"""What /readyz checks beyond the database: each active bot's LLM and embedding providers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from chinwag.config.bot import BotConfig
from chinwag.providers.registry import llm_server_url
from chinwag.settings import Settings

PROBE_SECONDS = 2.0


async def probe(client: httpx.AsyncClient, base_url: str) -> dict[str, Any]:
    """Whether an OpenAI-compatible server answers GET {base}/models (any non-5xx status)."""
    shown = _without_password(base_url)  # /readyz answers anyone
    try:
        response = await client.get(f"{base_url}/models")
    except httpx.HTTPError as exc:
        return {"ok": False, "url": shown, "error": f"{type(exc).__name__}: {exc}"}
    ok = response.status_code < 500
    return {"ok": ok, "url": shown, "status": response.status_code}


def _without_password(url: str) -> str:
    """The URL with a password in it (`http://user:secret@host`) replaced by `***`."""
    parsed = httpx.URL(url)
    if not parsed.password:
        return url
    return str(parsed.copy_with(username=parsed.username, password="***"))


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
    async with httpx.AsyncClient(timeout=PROBE_SECONDS) as client:
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
