"""Checks of a bot's `handoff:` section that its model cannot make alone: the time zone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem


def handoff_problems(document: dict[str, Any]) -> list[Problem]:
    """`handoff.hours.timezone` must name a time zone this server knows."""
    from chinwag.bots.validation import Problem

    handoff = document.get("handoff")
    hours = handoff.get("hours") if isinstance(handoff, dict) else None
    zone = hours.get("timezone") if isinstance(hours, dict) else None
    if not isinstance(zone, str) or not zone:
        return []
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            Problem(
                "handoff.hours.timezone",
                "unknown_time_zone",
                f"handoff.hours.timezone: unknown time zone '{zone}'",
                "Use an IANA time zone name, like Europe/Oslo or America/New_York.",
            )
        ]
    return []
