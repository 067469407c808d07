"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from chinwag.db import migrate
from chinwag.services import ServicesDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """The database answers and its schema is current; 503 with details otherwise."""
    checks: dict[str, Any] = {}
    try:
        async with services.db.read() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
        current, head = await migrate.current_revision(services.db), migrate.head_revision()
        checks["schema"] = {"ok": current == head, "current": current, "head": head}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc)}
    checks["generations"] = {"ok": True, "running": services.generations.running}
    ready = all(c.get("ok") for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
