"""The API the console's screens need: conversations across bots, transcripts, export,
correcting a decline, analytics and the doctor's checks (each usable with an API key too)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from chinwag.auth.principal import Principal
from chinwag.bots.service import get_bot
from chinwag.console.analytics import ChartRange
from chinwag.console.conversations import (
    AnswerStatus,
    ConversationFilters,
    DeclinedFilter,
    Position,
    search_conversations,
    transcript,
)
from chinwag.console.declines import mark_in_scope
from chinwag.console.export import ExportFormat, encode, export_rows
from chinwag.console.rollups import all_charts
from chinwag.console.route_fixes import UNCERTAIN_MARGIN, fix_route, uncertain_routes
from chinwag.db.base import utcnow
from chinwag.errors import InvalidRequest
from chinwag.http.days import LastDay, day_query
from chinwag.http.deps import PrincipalDep
from chinwag.http.problems import problem_responses
from chinwag.http.runtime import ServicesDep
from chinwag.operations.doctor import run_checks
from chinwag.timestamps import UtcDatetime

router = APIRouter(prefix="/v1", tags=["console"])
MAX_CHART_DAYS = 366


def _scope(principal: Principal, bot_id: str | None) -> str | None:
    """Admins see every bot (or the one asked for); a bot secret key only its own bot."""
    if principal.kind == "admin":
        return bot_id
    principal.require_bot(bot_id or principal.bot_id or "", kinds=("secret",))
    return principal.bot_id


async def conversation_filters(
    principal: PrincipalDep,
    bot_id: Annotated[str | None, Query(max_length=64, description="One bot.")] = None,
    since: Annotated[date | None, day_query("Active on or after this day (UTC).")] = None,
    until: Annotated[date | None, day_query("Started on or before this day.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in any message.")] = None,
    user_id: Annotated[str | None, Query(max_length=200, description="End user id.")] = None,
    rating: Annotated[
        Literal["down", "up"] | None, Query(description="An answer rated so.")
    ] = None,
    has_comment: Annotated[bool, Query(description="Feedback with a comment.")] = False,
    status: Annotated[AnswerStatus | None, Query(description="An answer that ended so.")] = None,
    flow: Annotated[str | None, Query(max_length=40, description="A flow that ran.")] = None,
    no_sources: Annotated[bool, Query(description="An answer given no sources.")] = False,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="An answer of this version.")
    ] = None,
    declined: Annotated[
        DeclinedFilter | None,
        Query(description="An answer the answer policy declined: for any reason, or this one."),
    ] = None,
) -> ConversationFilters:
    """The filters of the conversation list and export, limited to what the caller may see."""
    return ConversationFilters(
        bot_id=_scope(principal, bot_id),
        since=since,
        until=until,
        text=q or None,
        user_id=user_id or None,
        rating=rating,
        has_comment=has_comment,
        status=status,
        flow=flow or None,
        no_sources=no_sources,
        version=version,
        declined=declined,
    )


Filters = Annotated[ConversationFilters, Depends(conversation_filters)]


class DeclinedCounts(BaseModel):
    """Answers of a conversation that the answer policy declined, by reason."""

    out_of_scope: int
    unanswerable: int


class ConversationOut(BaseModel):
    bot_id: str
    session_id: str
    user_id: str
    user_display_name: str | None = Field(
        description="The end user's display name, as the site's token gave it."
    )
    user_email: str | None = Field(description="The end user's email, as the token gave it.")
    message_count: int
    first_message: str = Field(description="The first question, cut at 200 characters.")
    thumbs_down: int = Field(description="Answers of this conversation rated 👎.")
    declined: DeclinedCounts
    created_at: UtcDatetime
    last_message_at: UtcDatetime


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null: the end."
    )


@router.get("/conversations", response_model=ConversationPage)
async def conversations(
    filters: Filters,
    services: ServicesDep,
    cursor: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The previous page's `next_cursor` (opaque).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationPage:
    """Conversations across bots (admin) or of one bot (its secret key), most recent activity
    first; page through all of them with `cursor`."""
    start = Position.of(cursor) if cursor else None
    async with services.db.read() as conn:
        if filters.bot_id is not None:
            await get_bot(conn, filters.bot_id)
        items, next_page = await search_conversations(conn, filters, after_=start, limit=limit)
    return ConversationPage(
        items=[ConversationOut(**i) for i in items],
        next_cursor=next_page.cursor() if next_page else None,
    )


EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One row per message of the matching conversations, by conversation.",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/conversations/export", response_class=StreamingResponse, responses=EXPORT_DOC)
async def export_conversations(
    filters: Filters,
    services: ServicesDep,
    format: Annotated[ExportFormat, Query(description="jsonl or csv.")] = "jsonl",
) -> StreamingResponse:
    """The messages of the filtered conversations as JSON Lines or CSV (a download)."""
    async with services.db.read() as conn:
        if filters.bot_id is not None:
            await get_bot(conn, filters.bot_id)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    name = f"conversations-{utcnow():%Y%m%d-%H%M%S}.{format}"
    return StreamingResponse(
        encode(export_rows(services.db, filters), format),
        media_type=media,
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@router.get("/bots/{bot_id}/sessions/{session_id}/transcript")
async def session_transcript(
    bot_id: str, session_id: str, principal: PrincipalDep, services: ServicesDep
) -> dict[str, Any]:
    """A conversation with everything recorded about each answer: route decision and scores,
    flow runs with timings and tool calls, sources with snippets, token usage, TTFT, bot
    version, feedback, each message's author, and the handoff state. Operators read their bots'."""
    principal.require_bot(bot_id, kinds=("secret", "operator"))
    async with services.db.read() as conn:
        await get_bot(conn, bot_id)
        return await transcript(conn, bot_id=bot_id, session_id=session_id)


class InScopeOut(BaseModel):
    bot_id: str
    version: int = Field(description="The new active version: its policy.in_scope holds it.")
    previous_version: int = Field(description="The version that declined it (diff against it).")
    message: str = Field(description="The visitor's message added to policy.in_scope.")


IN_SCOPE_REFUSED = problem_responses(
    described={
        409: "Not a decline to correct (`message_not_declined`, `declined_as_unanswerable`, "
        "`message_already_in_scope`)."
    }
)


@router.post(
    "/bots/{bot_id}/messages/{message_id}/in-scope",
    response_model=InScopeOut,
    responses=IN_SCOPE_REFUSED,
)
async def message_in_scope(
    bot_id: str, message_id: str, principal: PrincipalDep, services: ServicesDep
) -> InScopeOut:
    """Not a decline: the visitor's message that this answer declined as out of scope is the
    bot's business. It is added to `policy.in_scope` in a new active version (admin), which
    the next message uses; roll back like any version."""
    principal.require_admin()
    found = await mark_in_scope(services.db, bot_id=bot_id, message_id=message_id)
    await services.generations.prepare(found.saved.config, found.saved.version)
    return InScopeOut(
        bot_id=bot_id,
        version=found.saved.version,
        previous_version=found.previous_version,
        message=found.message,
    )


class RouteFixIn(BaseModel):
    flows: list[str] = Field(
        max_length=100,
        description="The optional flows the visitor's message should have had; [] is `main` alone.",
    )


class RouteFixOut(BaseModel):
    bot_id: str
    version: int = Field(description="The new active version: its flows' examples hold it.")
    previous_version: int = Field(description="The version before the fix (diff against it).")
    message: str = Field(description="The visitor's message added to the flows' examples.")
    flows: list[str] = Field(description="The optional flows it now routes to; [] is `main`.")


ROUTE_FIX_REFUSED = problem_responses(
    described={
        409: "Not a route to fix (`message_not_routed`, `router_not_semantic`, `route_unchanged`)."
    }
)


@router.post(
    "/bots/{bot_id}/messages/{message_id}/route",
    response_model=RouteFixOut,
    responses=ROUTE_FIX_REFUSED,
)
async def message_route(
    bot_id: str, message_id: str, body: RouteFixIn, principal: PrincipalDep, services: ServicesDep
) -> RouteFixOut:
    """Fix a route: the visitor's message that this answer replied to should have had `flows`.
    It joins those flows' examples (`main`'s for []) and leaves the others' in a new active
    version (admin), which the semantic router learns before the next message; roll back like
    any version."""
    principal.require_admin()
    fixed = await fix_route(services.db, bot_id=bot_id, message_id=message_id, flows=body.flows)
    await services.generations.prepare(fixed.saved.config, fixed.saved.version)
    return RouteFixOut(
        bot_id=bot_id,
        version=fixed.saved.version,
        previous_version=fixed.previous_version,
        message=fixed.message,
        flows=fixed.flows,
    )


@router.get("/bots/{bot_id}/routes/uncertain")
async def routes_uncertain(
    bot_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    margin: Annotated[
        float,
        Query(gt=0, le=0.5, description="How close to its threshold a flow's score must be."),
    ] = UNCERTAIN_MARGIN,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The review queue: the bot's recent answers whose semantic route was a close call (some
    flow's score within `margin` of its threshold), newest first, each with the visitor's
    message, the chosen flows, every score and threshold."""
    principal.require_bot(bot_id, kinds=("secret",))
    async with services.db.read() as conn:
        items = await uncertain_routes(conn, bot_id=bot_id, margin=margin, limit=limit)
    return {"bot_id": bot_id, "margin": margin, "items": items}


@router.get("/analytics")
async def analytics(
    principal: PrincipalDep,
    services: ServicesDep,
    bot_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        date | None, day_query("First day (UTC); default: 29 days before `until`.")
    ] = None,
    until: LastDay = None,
) -> dict[str, Any]:
    """Every console chart over a range of days: activity, latency, tokens, flows, router
    decisions, feedback, answers without sources, errors."""
    scope = _scope(principal, bot_id)
    last = until or utcnow().date()
    first = since or last - timedelta(days=29)
    if first > last or (last - first).days >= MAX_CHART_DAYS:
        raise InvalidRequest(
            f"the range {first} to {last} is not valid",
            hint=f"Pick since <= until, at most {MAX_CHART_DAYS} days apart.",
        )
    chart_range = ChartRange(since=first, until=last, bot_id=scope)
    async with services.db.read() as conn:
        if scope is not None:
            await get_bot(conn, scope)
        charts = await all_charts(conn, chart_range)
    return {"bot_id": scope, "since": first, "until": last, "charts": charts}


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


@router.get("/doctor", response_model=list[CheckOut])
async def doctor(principal: PrincipalDep, services: ServicesDep) -> list[CheckOut]:
    """What `chinwag doctor` reports: schema, integrity queries, orphaned streams (admin)."""
    principal.require_admin()
    checks = await run_checks(services.db, heartbeat_seconds=services.settings.heartbeat_seconds)
    return [CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in checks]
