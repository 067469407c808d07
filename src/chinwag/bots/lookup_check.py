"""Validation of a flow's `lookup`: it names the flow's `data` tables and their columns."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem


def lookup_problems(where: str, flow: dict[str, Any]) -> list[Problem]:
    """Unknown tables and columns in the flow's `lookup`, as validation problems."""
    from chinwag.bots.validation import Problem

    data = flow.get("data") if isinstance(flow.get("data"), dict) else {}
    lookup = flow.get("lookup") if isinstance(flow.get("lookup"), dict) else {}
    assert isinstance(data, dict) and isinstance(lookup, dict)
    problems: list[Problem] = []
    for table, settings in lookup.items():
        path = f"{where}.lookup.{table}"
        if table not in data:
            problems.append(
                Problem(
                    path,
                    "lookup_table_unknown",
                    f"{path}: the flow has no data table '{table}'",
                    f"Name one of the flow's `data` tables ({', '.join(map(str, data)) or 'none'})"
                    ", or add the table under `data:`.",
                )
            )
            continue
        if not isinstance(settings, dict) or not isinstance(data[table], str):
            continue
        header = next(csv.reader(io.StringIO(data[table], newline="")), [])
        for column, at in _columns(settings):
            if column not in header:
                problems.append(
                    Problem(
                        f"{path}.{at}",
                        "lookup_column_unknown",
                        f"{path}.{at}: table '{table}' has no column '{column}'",
                        f"Its columns: {', '.join(header)}.",
                    )
                )
    return problems


def _columns(settings: dict[str, Any]) -> list[tuple[str, str]]:
    """(column, key path) of every column the lookup names."""
    from chinwag.engine.tables import CONDITION

    named: list[tuple[str, str]] = []
    named += [(str(c), "columns") for c in settings.get("columns") or []]
    named += [(str(c), f"numbers.{c}") for c in settings.get("numbers") or {}]
    named += [
        (str(c).lstrip("-"), f"order.{phrase}")
        for phrase, c in (settings.get("order") or {}).items()
    ]
    for phrase, condition in (settings.get("where") or {}).items():
        parsed = CONDITION.match(str(condition))
        named.append(
            (parsed.group(1) if parsed else f"{condition} (unreadable)", f"where.{phrase}")
        )
    return named
