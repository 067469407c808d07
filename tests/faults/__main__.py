"""`python -m tests.faults [--reduced] [--json] [--only KEY …]`: run the fault-injection
scenarios, print one table, exit 1 unless every figure is zero (and every other requirement,
e.g. the share of reconnects on the other worker, is met)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict

from tests.faults.lab import open_lab
from tests.faults.suite import SCENARIOS, run_scenario, table
from tests.faults.tally import Row


async def run(reduced: bool, only: list[str]) -> list[Row]:
    chosen = [s for s in SCENARIOS if not only or s.key in only]
    rows = []
    async with open_lab() as lab:
        for scenario in chosen:
            print(f"{scenario.key}: {scenario.count(reduced)} …", file=sys.stderr, flush=True)
            row = await run_scenario(lab, scenario, reduced=reduced)
            print(f"  {'ok' if row.ok else 'FAILED'} in {row.seconds} s", file=sys.stderr)
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--reduced", action="store_true", help="CI's small counts")
    parser.add_argument("--json", action="store_true", help="the rows as JSON instead")
    parser.add_argument(
        "--only", nargs="+", default=[], choices=[s.key for s in SCENARIOS], metavar="KEY"
    )
    args = parser.parse_args()
    start = time.monotonic()
    rows = asyncio.run(run(args.reduced, args.only))
    if args.json:
        print(json.dumps([asdict(r) | {"ok": r.ok} for r in rows], indent=2))
    else:
        print(table(rows))
        print(f"\n{'reduced' if args.reduced else 'full'} run: {time.monotonic() - start:.0f} s")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
