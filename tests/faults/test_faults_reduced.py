"""The fault-injection suite at CI's reduced counts, through the code `make faults` runs: one
test per scenario, each asserting the zeros of its row. And the counters themselves count."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest

from tests.faults.lab import Lab, open_lab
from tests.faults.suite import SCENARIOS, Scenario, run_scenario, table
from tests.faults.tally import Followed, Row
from tests.sse_client import SSEEvent

NO_REDIS = shutil.which("redis-server") is None


@pytest.fixture
async def lab(postgres_template: str) -> AsyncIterator[Lab]:
    async with open_lab(postgres_template) as opened:
        yield opened


def _param(scenario: Scenario) -> object:
    marks = [pytest.mark.slow] if scenario.slow else []
    if scenario.redis:
        marks.append(pytest.mark.skipif(NO_REDIS, reason="needs redis-server"))
    return pytest.param(scenario, id=scenario.key, marks=marks)


@pytest.mark.parametrize("scenario", [_param(s) for s in SCENARIOS])
async def test_reduced_scenario_loses_nothing(lab: Lab, scenario: Scenario) -> None:
    row = await run_scenario(lab, scenario, reduced=True)
    assert row.trials == scenario.reduced, table([row])
    assert row.ok, table([row])


def _seen(*seqs: int, ended: bool = True) -> Followed:
    events = [SSEEvent(seq, "message.delta", {"text": f"{seq} "}) for seq in seqs]
    return Followed("s", events=events, ended=ended)


def test_a_follower_counts_gaps_and_duplicates_and_assembles_each_seq_once() -> None:
    assert _seen(1, 2, 3).gaps_and_duplicates() == (0, 0)
    assert _seen(1, 2, 2, 3, 5, 4).gaps_and_duplicates() == (1, 2)
    assert _seen(2, 3).gaps_and_duplicates() == (1, 0)
    assert _seen(1, 2, 1, 2, 3).text == "1 2 3 "


def test_a_row_with_any_figure_or_failure_is_not_ok() -> None:
    assert Row("s", "sqlite").ok
    assert not Row("s", "sqlite", gaps=1).ok
    assert not Row("s", "sqlite", doctor_problems=1).ok
    assert not Row("s", "sqlite", failures=["only 40% of reconnects on the other worker"]).ok
