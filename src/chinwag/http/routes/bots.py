"""HTTP routes for bots: create, update, read, validate, versions, rollback, flow runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query

from chinwag.bots.activation import activate, check_document, problem_dicts
from chinwag.bots.index_check import with_index_check
from chinwag.bots.mcp_check import with_mcp_check
from chinwag.bots.schemas import (
    BOT_CONFIG_BODY,
    BotOut,
    BotSaved,
    BotSummary,
    FlowRunOut,
    FlowStats,
    RollbackIn,
    ValidationOut,
    VersionOut,
)
from chinwag.bots.service import config_json, get_bot, get_version, list_bots, list_versions
from chinwag.bots.service import rollback as rollback_to
from chinwag.bots.validation import Report
from chinwag.conversations.flow_runs import flow_figures, newest_flow_runs
from chinwag.errors import BotExists, BotIdMismatch, BotNotFound
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import ServicesDep
from chinwag.secrets import fresh_secrets, server_secrets

# Every bot change checks `${NAME}`s against the secrets file as it is now.
router = APIRouter(prefix="/v1/bots", tags=["bots"], dependencies=[Depends(fresh_secrets)])
ConfigBody = Annotated[dict[str, Any], Body()]


@router.get("", response_model=list[BotSummary])
async def get_bots(services: ServicesDep, principal: PrincipalDep) -> list[BotSummary]:
    """Every bot with its active version (admin)."""
    principal.require_admin()
    async with services.db.read() as conn:
        bots = await list_bots(conn)
    return [BotSummary(id=b.id, name=b.config.name, version=b.version) for b in bots]


@router.post("/validate", response_model=ValidationOut, openapi_extra=BOT_CONFIG_BODY)
async def validate_bot(
    body: ConfigBody, services: ServicesDep, principal: PrincipalDep
) -> ValidationOut:
    """Validate a configuration without saving it: every problem at once (admin)."""
    principal.require_admin()
    report = await with_index_check(check_document(body), services.knowledge)
    report = await with_mcp_check(
        report, env=server_secrets(), commands=services.settings.mcp_command_set
    )
    return ValidationOut(ok=report.ok, problems=problem_dicts(report.problems))


@router.post("", status_code=201, response_model=BotSaved, openapi_extra=BOT_CONFIG_BODY)
async def create_bot(body: ConfigBody, services: ServicesDep, principal: PrincipalDep) -> BotSaved:
    """Create a bot (admin; 409 if the id is taken); a configuration with errors: 422."""
    principal.require_admin()
    report = await with_index_check(check_document(body), services.knowledge)
    if report.config is not None:
        try:
            async with services.db.read() as conn:
                await get_bot(conn, report.config.id)
            raise BotExists(f"bot '{report.config.id}' exists")
        except BotNotFound:
            pass
    saved = await activate(services.db, report, mcp_commands=services.settings.mcp_command_set)
    return BotSaved(
        id=saved.id, version=saved.version, changed=saved.created, warnings=_warnings(report)
    )


@router.put("/{bot_id}", response_model=BotSaved, openapi_extra=BOT_CONFIG_BODY)
async def put_bot(
    bot_id: str, body: ConfigBody, services: ServicesDep, principal: PrincipalDep
) -> BotSaved:
    """Create or update a bot (admin); a changed configuration becomes a new, active version."""
    principal.require_admin()
    if body.get("id") != bot_id:
        raise BotIdMismatch(f"the configuration's id is {body.get('id')!r}, the URL's '{bot_id}'")
    report = await with_index_check(check_document(body), services.knowledge)
    saved = await activate(services.db, report, mcp_commands=services.settings.mcp_command_set)
    if saved.created:
        await services.generations.prepare(saved.config, saved.version)
    return BotSaved(
        id=saved.id, version=saved.version, changed=saved.created, warnings=_warnings(report)
    )


@router.get("/{bot_id}", response_model=BotOut)
async def get_one(bot_id: str, services: ServicesDep, principal: PrincipalDep) -> BotOut:
    """The bot's active version and configuration (admin, the bot's secret key)."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        bot = await get_bot(conn, bot_id)
    return BotOut(id=bot.id, version=bot.version, config=config_json(bot.config))


@router.get("/{bot_id}/versions", response_model=list[VersionOut])
async def versions(bot_id: str, services: ServicesDep, principal: PrincipalDep) -> list[VersionOut]:
    """Every saved version, oldest first; `active` marks the one serving."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        found = await list_versions(conn, bot_id)
    return [
        VersionOut(version=v.version, created_at=v.created_at, note=v.note, active=v.active)
        for v in found
    ]


@router.get("/{bot_id}/versions/{version}", response_model=BotOut)
async def version(
    bot_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    services: ServicesDep,
    principal: PrincipalDep,
) -> BotOut:
    """One saved version's configuration."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        config = await get_version(conn, bot_id, version)
    return BotOut(id=bot_id, version=version, config=config_json(config))


@router.post("/{bot_id}/rollback", response_model=BotSaved)
async def rollback(
    bot_id: str, body: RollbackIn, services: ServicesDep, principal: PrincipalDep
) -> BotSaved:
    """Serve an earlier version's configuration again, saved as a new version (admin)."""
    principal.require_admin()
    async with services.db.write() as conn:
        saved = await rollback_to(conn, bot_id, body.version)
    return BotSaved(id=saved.id, version=saved.version, changed=saved.created, warnings=[])


@router.get("/{bot_id}/flow-runs", response_model=list[FlowRunOut])
async def flow_runs(
    bot_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    flow: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(pattern="^(completed|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FlowRunOut]:
    """The newest flow runs of the bot's answers: flow, score, status, time, error."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        rows = await newest_flow_runs(conn, bot_id, flow=flow, status=status, limit=limit)
    return [FlowRunOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{bot_id}/flow-stats", response_model=list[FlowStats])
async def flow_stats(
    bot_id: str, services: ServicesDep, principal: PrincipalDep
) -> list[FlowStats]:
    """Per flow: how often it ran, how often it failed, and its mean and slowest time."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        rows = await flow_figures(conn, bot_id)
    return [
        FlowStats(
            flow=r.flow,
            runs=r.runs,
            failed=int(r.failed or 0),
            mean_ms=round(float(r.mean_ms), 2),
            max_ms=round(float(r.max_ms), 2),
        )
        for r in rows
    ]


def _warnings(report: Report) -> list[dict[str, str]]:
    return problem_dicts(report.warnings)
