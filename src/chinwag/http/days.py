"""Query parameters that name a day (UTC), bounded so that a range computed from them stays a
valid date: a day outside the bounds is refused with 422, not overflowed into a 500."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Query

EARLIEST, LATEST = date(1970, 1, 1), date(9999, 1, 1)


def day_query(description: str) -> Any:
    """A `date` query parameter between EARLIEST and LATEST."""
    # FastAPI types the bounds as numbers; pydantic compares dates with them just as well.
    return Query(ge=EARLIEST, le=LATEST, description=description)  # type: ignore[arg-type]


LastDay = Annotated[date | None, day_query("Last day (UTC); default today.")]
