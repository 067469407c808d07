"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from chinwag.bots.index_check import index_problems
from chinwag.bots.service import list_bots
from chinwag.db import migrate
from chinwag.services import Services, ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


async def _knowledge_check(services: Services) -> dict[str, Any]:
    """Every active bot's knowledge index exists and fits its embedding model."""
    async with services.db.read() as conn:
        bots = await list_bots(conn)
    failing = {}
    for bot in bots:
        errors = [
            p for p in await index_problems(bot.config, services.knowledge) if p.severity == "error"
        ]
        if errors:
            failing[bot.id] = [
                {"code": p.code, "message": p.message, "hint": p.hint} for p in errors
            ]
    return {"ok": not failing, "bots": failing}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers, its schema is current and every active bot's knowledge index is
    usable; 503 with details otherwise."""
    checks: dict[str, Any] = {}
    try:
        async with services.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
        current, head = await migrate.current_revision(services.db), migrate.head_revision()
        checks["schema"] = {"ok": current == head, "current": current, "head": head}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    else:
        checks["knowledge"] = await _knowledge_check(services)
    checks["generations"] = {"ok": True, "running": services.generations.running}
    ready = all(c.get("ok") for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
