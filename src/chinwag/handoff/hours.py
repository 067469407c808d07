"""Whether people answer now, by the bot's `handoff.hours` in its own time zone."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from chinwag.config.handoff import HandoffHours


def _span(text: str) -> tuple[time, time | None]:
    start, end = text.split("-")
    end_time = None if end == "24:00" else time.fromisoformat(end)  # None: until midnight
    return time.fromisoformat(start), end_time


def within_hours(hours: HandoffHours | None, now: datetime) -> bool:
    """True when `now` (aware) falls in the opening hours of its local day; no hours: always."""
    if hours is None:
        return True
    local = now.astimezone(ZoneInfo(hours.timezone))
    weekday = local.weekday()
    today = hours.weekdays if weekday < 5 else hours.saturday if weekday == 5 else hours.sunday
    if today is None:
        return False
    start, end = _span(today)
    clock = local.time().replace(tzinfo=None)
    return start <= clock and (end is None or clock < end)
