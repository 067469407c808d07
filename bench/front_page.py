"""The front table of bench/README.md, measured in one command: chinwag next to the raw byte relay
and the minimal relay, at c = 1, 10, 50 and 200, on SQLite and on PostgreSQL, with the event
log's commits per answer (issue 33).

    .venv/bin/python bench/front_page.py              # measure (~20 min), write the table
    .venv/bin/python bench/front_page.py --concurrency 1 10 --dbs sqlite
    .venv/bin/python bench/front_page.py --from bench/results/front-20261206-*.jsonl

Each (database, concurrency) is one run of bench/run_streaming.sh with the peers `passthrough`
(the raw byte relay: FastAPI passing the fake LLM's bytes, logging nothing) and `minimal`
(FastAPI + openai SDK + sse-starlette) and chinwag's `main`-only bot, so that its commit counts
belong to one concurrency; the demo bot (SQLite) gets runs of its own for the same reason, with
`main` only measured again beside it by the same server, since the demo's cost beyond `main` only
is smaller than the drift between runs (its commit counts are both bots' answers). The
table is written to bench/results/front-page-<stamp>.md and, with `--readme`, between the
front-page markers of bench/README.md. Needs what run_streaming.sh needs (the harness venvs:
`LOCKED=1 bash bench/harness/setup_venvs.sh`; PostgreSQL for the postgres rows).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
BEGIN, END = "<!-- front-page:begin -->", "<!-- front-page:end -->"
BESIDE_DEMO = "chinwag-plain-beside-demo"  # the demo's runs measure `main` only too: same server
SERVERS = {  # harness label (its start) -> the row's name, in the table's order
    "passthrough": "raw byte relay (logs nothing)",
    "minimal": "minimal relay (openai SDK + sse-starlette)",
    "chinwag-plain": "chinwag, `main` only, durable log",
    "chinwag-vinhuset": "chinwag, demo bot (router, hybrid search, flows)",
    BESIDE_DEMO: "chinwag, `main` only, in the demo bot's run",
}
RELAY = "passthrough"


@dataclass(frozen=True)
class Row:
    db: str
    concurrency: int
    server: str
    cpu_ms: float | None
    ttft_ms: float
    direct_ttft_ms: float
    answers_per_s: float
    errors: int
    log_commits: float | None = None
    all_commits: float | None = None


def measure(dbs: list[str], levels: list[int], demo: bool) -> list[Path]:
    """One run_streaming.sh run per (database, concurrency, bot); the .jsonl files written."""
    runs = []
    for db in dbs:
        for c in levels:
            runs.append((db, c, "plain", "front", "passthrough minimal"))
            if demo and db == "sqlite":
                runs.append((db, c, "plain vinhuset", "front-demo", ""))
    written = []
    for db, c, bot, name, peers in runs:
        started = time.time()
        env = {
            **os.environ,
            "NAME": name,
            "DBS": db,
            "BOTS": bot,
            "CONCURRENCY": str(c),
            "CHINWAG_PEERS": peers,
            "PROFILE_DBS": "",
        }
        print(f"--- {db}, c={c}, {bot}", file=sys.stderr, flush=True)
        subprocess.run(["bash", str(BENCH / "run_streaming.sh")], env=env, check=True, cwd=ROOT)
        new = [p for p in RESULTS.glob(f"{name}-*-{db}.jsonl") if p.stat().st_mtime >= started]
        if len(new) != 1:
            raise SystemExit(f"expected one new {name}-*-{db}.jsonl, found {new}")
        written.append(new[0])
    return written


def rows_of(path: Path) -> list[Row]:
    """The table's rows in one run's .jsonl, each against the `direct` measured before it, and
    chinwag's with the run's commit counts (its .extra.json)."""
    extra_path = path.with_suffix(".extra.json")
    extra = json.loads(extra_path.read_text()) if extra_path.exists() else {}
    rows, direct = [], None
    for line in path.read_text().splitlines():
        record = json.loads(line)
        label = str(record["label"])
        if label == "direct":
            direct = record
            continue
        server = next((s for s in SERVERS if label == s or label.startswith(f"{s}-")), None)
        if server is None or direct is None:
            continue
        if server == "chinwag-plain" and path.stem.startswith("front-demo"):
            server = BESIDE_DEMO
        chinwag = server.startswith("chinwag")
        rows.append(
            Row(
                db=path.stem.rsplit("-", 1)[-1],
                concurrency=int(record["concurrency"]),
                server=server,
                cpu_ms=(record.get("cpu_ms_per_req") or {}).get("server"),
                ttft_ms=float(record["ttft_ms"]["p50"]),
                direct_ttft_ms=float(direct["ttft_ms"]["p50"]),
                answers_per_s=float(record["rps"]),
                errors=int(record["errors"]),
                log_commits=extra.get("log_commits_per_answer") if chinwag else None,
                all_commits=extra.get("postgres_commits_per_answer") if chinwag else None,
            )
        )
    return rows


def table(rows: list[Row], db: str) -> list[str]:
    """One database's table: per concurrency, each server's CPU, TTFT and commits."""
    lines = [
        f"**{'SQLite' if db == 'sqlite' else 'PostgreSQL'}**",
        "",
        "| c | server | CPU ms/answer | × raw relay | TTFT p50 ms | − raw relay | × direct "
        "| answers/s | commits/answer: event log | all (PostgreSQL) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in sorted({r.concurrency for r in rows if r.db == db}):
        here = [r for r in rows if r.db == db and r.concurrency == c]
        relay = next((r for r in here if r.server == RELAY), None)
        for r in sorted(here, key=lambda r: list(SERVERS).index(r.server)):
            cpu_ratio = relay and relay.cpu_ms and r.cpu_ms and r.cpu_ms / relay.cpu_ms
            ttft_gap = None if relay is None or r is relay else r.ttft_ms - relay.ttft_ms
            lines.append(
                f"| {c} | {SERVERS[r.server]} | {_num(r.cpu_ms)} "
                f"| {_num(cpu_ratio if r is not relay else 1.0, '×', 2)} "
                f"| {r.ttft_ms:.1f} | {_num(ttft_gap, ' ms', sign=True)} "
                f"| {r.ttft_ms / r.direct_ttft_ms:.2f} "
                f"| {r.answers_per_s:.1f}{f' ({r.errors} errors)' if r.errors else ''} "
                f"| {_num(r.log_commits)} | {_num(r.all_commits)} |"
            )
    return lines


def _num(value: float | None, unit: str = "", digits: int = 1, *, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}{unit}" if sign else f"{value:.{digits}f}{unit}"


def compact(rows: list[Row]) -> list[str]:
    """The front page's table: a row per server and database, a column per concurrency."""
    levels = sorted({r.concurrency for r in rows})
    cs = " | ".join(f"c={c}" for c in levels)
    lines = [
        f"| server | db | CPU ms/answer (× raw relay) {cs} | TTFT p50 × direct {cs} "
        f"| commits/answer, event log (all, PostgreSQL) {cs} |",
        "|---|---|" + "---|" * (3 * len(levels)),
    ]
    for db in ("sqlite", "postgres"):
        for server in SERVERS:
            mine = {r.concurrency: r for r in rows if r.db == db and r.server == server}
            if not mine:
                continue
            relays = {r.concurrency: r for r in rows if r.db == db and r.server == RELAY}
            cpu, ttft, commits = [], [], []
            for c in levels:
                r, relay = mine.get(c), relays.get(c)
                if r is None:
                    for cells in (cpu, ttft, commits):
                        cells.append("—")
                    continue
                ratio = relay and relay.cpu_ms and r.cpu_ms and r.cpu_ms / relay.cpu_ms
                cpu.append(f"{_num(r.cpu_ms)} ({_num(ratio, '×', 2)})")
                errors = f", {r.errors} errors" if r.errors else ""
                ttft.append(f"{r.ttft_ms / r.direct_ttft_ms:.2f}{errors}")
                shown = _num(r.log_commits)
                commits.append(shown if r.all_commits is None else f"{shown} ({r.all_commits})")
            lines.append(
                f"| {SERVERS[server]} | {db} | {' | '.join(cpu)} | {' | '.join(ttft)} "
                f"| {' | '.join(commits)} |"
            )
        lines.extend(beyond_main(rows, db, levels))
    return lines


def beyond_main(rows: list[Row], db: str, levels: list[int]) -> list[str]:
    """The demo bot's CPU and TTFT p50 beyond `main` only, both measured by one server in one
    run (runs apart differ by more than the difference: the machine's speed drifts)."""
    demo = {r.concurrency: r for r in rows if r.db == db and r.server == "chinwag-vinhuset"}
    plain = {r.concurrency: r for r in rows if r.db == db and r.server == BESIDE_DEMO}
    if not demo or not plain:
        return []
    cpu, ttft = [], []
    for c in levels:
        d, p = demo.get(c), plain.get(c)
        cpu.append(
            _num(d.cpu_ms - p.cpu_ms, " ms", sign=True)
            if d and p and d.cpu_ms and p.cpu_ms
            else "—"
        )
        ttft.append(_num(d.ttft_ms - p.ttft_ms, " ms", sign=True) if d and p else "—")
    return [
        f"| demo bot beyond `main` only, same run (CPU; TTFT p50 in ms) | {db} "
        f"| {' | '.join(cpu)} | {' | '.join(ttft)} | {' | '.join('—' for _ in levels)} |"
    ]


def front_page(paths: list[Path], rows: list[Row], *, detailed: bool, load: str) -> str:
    commits = sorted({_commit(p) for p in paths} - {""})
    stamps = sorted(m.group(1) for p in paths if (m := re.search(r"(\d{8}-\d{4})\d\d", p.stem)))
    when = f"{stamps[0]} to {stamps[-1]}" if stamps else "?"
    lines = [
        f"Measured {when} UTC, commit {', '.join(commits) or '?'}{load}. Commits: the event log's "
        "transactions that wrote events after the accept (in brackets every transaction "
        "PostgreSQL counted: accepts, reads, heartbeats), per completed answer.",
        "",
    ]
    if not detailed:
        return "\n".join([*lines, *compact(rows)])
    for db in ("sqlite", "postgres"):
        if any(r.db == db for r in rows):
            lines += [*table(rows, db), ""]
    runs = ", ".join(f"[{p.stem}]({p.stem}.md)" for p in paths)
    lines.append(f"Runs: {runs}.")
    return "\n".join(lines)


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _commit(path: Path) -> str:
    extra = path.with_suffix(".extra.json")
    return str(json.loads(extra.read_text()).get("commit", "")) if extra.exists() else ""


def write_readme(text: str) -> None:
    readme = README.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"{README} has no {BEGIN} … {END} section to replace")
    README.write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}\n{END}", readme))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dbs", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 10, 50, 200])
    parser.add_argument("--no-demo", action="store_true", help="no demo bot rows")
    parser.add_argument("--from", dest="paths", nargs="+", type=Path, help="earlier runs' .jsonl")
    parser.add_argument("--readme", action="store_true", help="rewrite bench/README.md's table")
    args = parser.parse_args()
    paths = args.paths or measure(args.dbs, args.concurrency, not args.no_demo)
    load = "" if args.paths else f", load average at the end {_load()}"
    rows = [row for path in paths for row in rows_of(path)]
    out = RESULTS / f"front-page-{time.strftime('%Y%m%d-%H%M%S')}.md"
    out.write_text(front_page(paths, rows, detailed=True, load=load) + "\n")
    text = front_page(paths, rows, detailed=False, load=load)
    print(text)
    print(f"\nwritten: {out}", file=sys.stderr)
    if args.readme:
        runs = " ".join(f"results/{p.stem}.*" for p in paths)
        write_readme(
            f"{text}\n\nEach figure with TTFT in ms and answers/s: "
            f"[{out.name}](results/{out.name}); the runs: {runs}."
        )


if __name__ == "__main__":
    main()
