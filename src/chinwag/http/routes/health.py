"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from chinwag.bots.index_check import index_problems
from chinwag.bots.service import BotVersion, list_bots
from chinwag.db import migrate
from chinwag.http.runtime import Services, ServicesDep
from chinwag.operations.readiness import check_bots

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


async def _knowledge_check(services: Services, bots: list[BotVersion]) -> dict[str, Any]:
    """Every active bot's knowledge index exists and fits its embedding model."""
    failing = {}
    for bot in bots:
        problems = await index_problems(bot.config, services.knowledge)
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            failing[bot.id] = [
                {"code": p.code, "message": p.message, "hint": p.hint} for p in errors
            ]
    return {"ok": not failing, "bots": failing}


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}}
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this server (text exposition format)."""
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Database reachable, schema current, every active bot's LLM and embedding servers answer
    and its knowledge index is usable, the event log commits; 503 with the details otherwise."""
    checks: dict[str, Any] = {}
    try:
        async with services.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
        current, head = await migrate.current_revision(services.db), migrate.head_revision()
        checks["schema"] = {"ok": current == head, "current": current, "head": head}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    if checks["database"]["ok"]:
        try:
            async with services.db.read() as conn:
                bots = await list_bots(conn)
            per_bot = await check_bots(services.settings, [(b.id, b.config) for b in bots])
            checks["bots"] = {"ok": all(c["ok"] for c in per_bot.values()), "bots": per_bot}
            checks["knowledge"] = await _knowledge_check(services, bots)
        except Exception as exc:  # a bot that cannot be read is a reason not to be ready
            checks["bots"] = {"ok": False, "error": str(exc)}
    checks["event_log"] = services.event_log.health()
    checks["generations"] = {"ok": True, "running": services.generations.running}
    ready = all(c.get("ok") for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
