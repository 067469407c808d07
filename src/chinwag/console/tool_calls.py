"""Tool calls as the console shows them: each answer's calls in its transcript, and calls,
errors and p95 time per tool over a range of days (SQLite and PostgreSQL).

Both read what the flow runs recorded (ToolOutcome.record: arguments already redacted where
the tool's schema marks a field secret, never the response): a flow's one call in
`flow_runs.tool`, `main`'s function calls in `flow_runs.tool_calls`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Select, case, cast, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from chinwag.console.analytics import ChartRange, _percentiles, _rows
from chinwag.conversations.models import FlowRun


def answer_calls(
    flow: str, tool: dict[str, Any] | None, tool_calls: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """One flow run's calls, in the order they were made, each named by its flow (`step`
    and `call_id`: main's function calls only)."""
    recorded = ([tool] if isinstance(tool, dict) else []) + (tool_calls or [])
    return [
        {
            "flow": flow,
            "tool": call.get("tool"),
            "step": call.get("step"),
            "call_id": call.get("call_id"),
            "arguments": call.get("arguments") or {},
            "status": call.get("status"),
            "http_status": call.get("http_status"),
            "ms": call.get("ms"),
            "bytes": call.get("bytes"),
            "attempts": call.get("attempts"),
            "error_code": call.get("code"),
        }
        for call in recorded
    ]


def _in_range(r: ChartRange) -> tuple[ColumnElement[bool], ...]:
    where = (FlowRun.created_at >= r.start, FlowRun.created_at < r.end)
    return (*where, FlowRun.bot_id == r.bot_id) if r.bot_id is not None else where


def _calls(conn: AsyncConnection, r: ChartRange) -> Select[*tuple[Any, ...]]:
    """One row per call made in the range (tool, status, ms): flows' calls and main's."""
    flows = select(
        FlowRun.tool["tool"].as_string().label("tool"),
        FlowRun.tool["status"].as_string().label("status"),
        FlowRun.tool["ms"].as_float().label("ms"),
    ).where(*_in_range(r), FlowRun.tool["tool"].as_string().is_not(None))  # not JSON null
    if conn.dialect.name == "postgresql":
        listed = case(
            (func.json_typeof(FlowRun.tool_calls) == "array", FlowRun.tool_calls),
            else_=cast(literal("[]"), JSON),
        )
        called = func.json_array_elements(listed).table_valued("value").alias("called")

        def field(name: str) -> ColumnElement[Any]:
            return called.c.value.op("->>")(literal(name))
    else:
        listed = case(
            (func.json_type(FlowRun.tool_calls) == "array", FlowRun.tool_calls), else_="[]"
        )
        called = func.json_each(listed).table_valued("value").alias("called")

        def field(name: str) -> ColumnElement[Any]:
            return func.json_extract(called.c.value, f"$.{name}")

    main = (
        select(
            field("tool").label("tool"),
            field("status").label("status"),
            cast(field("ms"), Float).label("ms"),
        )
        .select_from(FlowRun)
        .join(called, true())
        .where(*_in_range(r))
    )
    union = union_all(flows, main).subquery()
    return select(union.c.tool, union.c.status, union.c.ms)


async def tools(conn: AsyncConnection, r: ChartRange) -> list[dict[str, Any]]:
    """Per tool: calls, errors (a status other than `completed`), p50 and p95 time in ms."""
    calls = _calls(conn, r).subquery()
    timed = select(calls.c.tool, calls.c.ms)
    query = _percentiles(conn, timed, "tool", "ms", ("p50_ms", 50), ("p95_ms", 95))
    failed = (
        select(calls.c.tool, func.count().label("errors"))
        .where(calls.c.status != "completed")
        .group_by(calls.c.tool)
    )
    errors = {row.tool: row.errors for row in await conn.execute(failed)}
    return [
        {
            "tool": row["tool"],
            "calls": row["count"],
            "errors": errors.get(row["tool"], 0),
            "p50_ms": row["p50_ms"],
            "p95_ms": row["p95_ms"],
        }
        for row in _rows(await conn.execute(query))
    ]
