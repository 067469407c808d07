"""Tool calls as the console shows them: each answer's calls in its transcript, and every call
made over a range of days for the analytics' table per tool (SQLite and PostgreSQL).

Both read what the flow runs recorded (ToolOutcome.record: arguments already redacted where
the tool's schema marks a field secret, never the response): a flow's one call in
`flow_runs.tool`, `main`'s function calls in `flow_runs.tool_calls`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Select, case, cast, func, literal, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

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


def calls_made(
    conn: AsyncConnection, *, start: datetime, end: datetime, bot_id: str | None
) -> Select[*tuple[Any, ...]]:
    """One row per call made from `start` to `end` (tool, status, ms), one bot's or every
    bot's: flows' calls and main's function calls."""
    in_range = [FlowRun.created_at >= start, FlowRun.created_at < end]
    if bot_id is not None:
        in_range.append(FlowRun.bot_id == bot_id)
    flows = select(
        FlowRun.tool["tool"].as_string().label("tool"),
        FlowRun.tool["status"].as_string().label("status"),
        FlowRun.tool["ms"].as_float().label("ms"),
    ).where(*in_range, FlowRun.tool["tool"].as_string().is_not(None))  # not JSON null
    if conn.dialect.name == "postgresql":
        is_list = func.json_typeof(FlowRun.tool_calls) == "array"
        listed = case((is_list, FlowRun.tool_calls), else_=cast(literal("[]"), JSON))
        called = func.json_array_elements(listed).table_valued("value").alias("called")

        def field(name: str) -> ColumnElement[Any]:
            return called.c.value.op("->>")(literal(name))
    else:
        is_list = func.json_type(FlowRun.tool_calls) == "array"
        listed = case((is_list, FlowRun.tool_calls), else_="[]")
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
        .where(*in_range, is_list)  # most runs called nothing: no function call for them
    )
    union = union_all(flows, main).subquery()
    return select(union.c.tool, union.c.status, union.c.ms)
