"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from chinwag.http.runtime import ServicesDep
from chinwag.operations.readiness import database_and_bots

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


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
    checks = await database_and_bots(services.db, services.settings, services.knowledge)
    checks["event_log"] = services.event_log.health()
    checks["generations"] = {
        "ok": not services.drain.started,
        "running": services.generations.running,
        "draining": services.drain.started,
    }
    ready = all(c.get("ok") for c in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
