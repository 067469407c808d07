"""The scenarios of `make faults`, with their full counts (issue 14) and the reduced counts CI
runs through the same code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tests.faults.lab import Lab
from tests.faults.outages import postgres_outage, redis_outage
from tests.faults.races import first_message_races, idempotency_races
from tests.faults.scenarios import (
    drop_and_resume_across_workers,
    random_disconnects,
    sigkill_generating_worker,
)
from tests.faults.tally import Row

Run = Callable[[Lab, int], Awaitable[Row]]


def _on(database: str, scenario: Callable[[Lab, str, int], Awaitable[Row]]) -> Run:
    async def run(lab: Lab, count: int) -> Row:
        return await scenario(lab, database, count)

    return run


@dataclass(frozen=True)
class Scenario:
    key: str  # for --only and the pytest ids
    label: str
    database: str
    run: Run
    full: int  # trials: cuts, kills, races or streams (see each function)
    reduced: int
    slow: bool = False  # marked `slow` in pytest (tens of seconds even reduced)
    redis: bool = False  # needs redis-server

    def count(self, reduced: bool) -> int:
        return self.reduced if reduced else self.full


SCENARIOS = [
    *(
        Scenario(
            f"disconnects-{db}",
            "random client disconnects",
            db,
            _on(db, random_disconnects),
            1000,
            100,
        )
        for db in ("sqlite", "postgres")
    ),
    Scenario(
        "across-workers",
        "drop-and-resume across workers",
        "postgres",
        drop_and_resume_across_workers,
        1000,
        100,
        redis=True,
    ),
    Scenario(
        "sigkill",
        "SIGKILL of the generating worker",
        "postgres",
        sigkill_generating_worker,
        200,
        6,
        slow=True,
        redis=True,
    ),
    *(
        Scenario(
            f"idempotency-{db}",
            "idempotency races, 50-way",
            db,
            _on(db, idempotency_races),
            20,
            2,
        )
        for db in ("sqlite", "postgres")
    ),
    *(
        Scenario(
            f"first-message-{db}",
            "first-message races, 200-way",
            db,
            _on(db, first_message_races),
            3,
            1,
            slow=True,
        )
        for db in ("sqlite", "postgres")
    ),
    Scenario(
        "postgres-outage", "PostgreSQL outage", "postgres", postgres_outage, 100, 40, slow=True
    ),
    Scenario(
        "redis-outage", "Redis outage", "postgres", redis_outage, 100, 40, slow=True, redis=True
    ),
]


async def run_scenario(lab: Lab, scenario: Scenario, *, reduced: bool) -> Row:
    """The scenario's row; a scenario that raises or overruns its time gives a failed row."""
    start = time.monotonic()
    within = 600 if reduced else 7200
    try:
        row = await asyncio.wait_for(scenario.run(lab, scenario.count(reduced)), within)
    except Exception as exc:  # the table must still be printed
        row = Row(scenario.label, scenario.database)
        message = str(exc).strip().splitlines()[:3]
        row.failures.append(f"{type(exc).__name__}: {' '.join(message)[:300]}")
    row.seconds = round(time.monotonic() - start, 1)
    return row


COLUMNS = ("scenario", "database", "trials", "lost", "gaps", "duplicates", "left streaming")


def table(rows: list[Row]) -> str:
    head = [*COLUMNS, "doctor", "s", "ok", "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        notes = [f"{k}: {v}" for k, v in r.extra.items()] + [f"**{f}**" for f in r.failures]
        cells = [
            r.scenario,
            r.database,
            r.trials,
            r.lost,
            r.gaps,
            r.duplicates,
            r.left_streaming,
            r.doctor_problems,
            r.seconds,
            "yes" if r.ok else "**NO**",
            "; ".join(notes),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
