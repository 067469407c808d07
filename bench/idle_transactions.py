#!/usr/bin/env python3
"""idle_transactions.py - what one idle `chinwag serve` costs PostgreSQL: its transactions per
second with no traffic at all (issue 33: an idle worker's transactions fall on the few answers
of a c=1 run).

Counted two ways over the same window, after a settling time (start-up, the first sweep past
the heartbeat's grace period, the first fold of the daily charts):
  * by the database: pg_stat_database xact_commit + xact_rollback of a fresh database of the
    run's own (read from the admin database, so these reads are not counted);
  * by the server: SQLAlchemy listeners on every engine of the server process write each
    transaction's statements to a trace; the result groups the window's transactions by their
    statements (literals dropped), which says who spends them.

    python bench/idle_transactions.py                 # 60 s window, 10 s settling (~80 s)
    python bench/idle_transactions.py --seconds 30

Binds 127.0.0.1 only; the database it creates is dropped at the end; the server it starts is
stopped by its PID. The server runs this worktree's src/; the result names its commit.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from result_files import copy_stdout_to, result_path  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
XACT_SQL = "select xact_commit + xact_rollback from pg_stat_database where datname = $1"

# Run inside the server process: trace every transaction, then `chinwag serve`.
BOOT = """
import os, sys, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
trace = open(os.environ["IDLE_BENCH_TRACE"], "a", buffering=1)
def mark(what):
    trace.write(f"{time.time():.4f} {what}\\n")
event.listen(Engine, "begin", lambda conn: mark(f"{id(conn)} BEGIN"))
event.listen(Engine, "commit", lambda conn: mark(f"{id(conn)} COMMIT"))
event.listen(Engine, "rollback", lambda conn: mark(f"{id(conn)} ROLLBACK"))
def statement(conn, cursor, sql, params, context, many):
    mark(f"{id(conn)} SQL " + " ".join(sql.split()))
event.listen(Engine, "before_cursor_execute", statement)
from chinwag.cli.main import app
sys.argv = ["chinwag", "serve", "--host", "127.0.0.1", "--port", os.environ["IDLE_BENCH_PORT"]]
app()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def xacts(database: str) -> int:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute("select pg_stat_clear_snapshot()")
        return int(await conn.fetchval(XACT_SQL, database))
    finally:
        await conn.close()


def commit() -> str:
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return head + (" + uncommitted changes in src/" if dirty else "")


def shape(sql: str) -> str:
    """A statement without its literals and parameters, short enough to read."""
    sql = re.sub(r"'[^']*'", "?", sql).replace("::TIMESTAMP WITH TIME ZONE", "")
    sql = re.sub(r"\$\d+(::\w+(\[\])?)?|%\(\w+\)s|\b\d+(\.\d+)?\b", "?", sql)
    sql = re.sub(r"\(\?(, \?)*\)", "(…)", sql)
    return sql[:110] + ("…" if len(sql) > 110 else "")


def transactions(trace: Path, start: float, end: float) -> list[tuple[str, ...]]:
    """The statements of each transaction that began in [start, end)."""
    found: list[tuple[str, ...]] = []
    open_: dict[str, list[str] | None] = {}  # by connection: transactions run side by side
    for line in trace.read_text().splitlines():
        at, conn, what = line.split(" ", 2)
        if what == "BEGIN":
            open_[conn] = [] if start <= float(at) < end else None
        elif what in ("COMMIT", "ROLLBACK"):
            current = open_.pop(conn, None)
            if current is not None:
                found.append((*current, what))
        elif what.startswith("SQL ") and open_.get(conn) is not None:
            open_[conn].append(shape(what[4:]))  # type: ignore[union-attr]
    return found


Traced = list[tuple[str, ...]]


def measure(
    args: argparse.Namespace, database: str, port: int
) -> tuple[float, float, int, int, Traced, Traced, Traced]:
    """Start the server on `database`, wait for it to settle, count over the window."""
    with tempfile.TemporaryDirectory(prefix="chinwag-idle-") as tmp:
        trace = Path(tmp) / "trace.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
        env.update(
            PYTHONPATH=str(args.src.resolve()),
            CHINWAG_DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
            CHINWAG_DATA_DIR=str(Path(tmp) / "data"),
            CHINWAG_SECRET_KEY="idle-bench-" + "x" * 32,
            CHINWAG_LLM_BASE_URL="http://127.0.0.1:9/v1",  # never called: no traffic
            CHINWAG_LLM_MODEL="fake-gpt",
            IDLE_BENCH_TRACE=str(trace),
            IDLE_BENCH_PORT=str(port),
        )
        if args.heartbeat is not None:
            env["CHINWAG_HEARTBEAT_SECONDS"] = str(args.heartbeat)
        subprocess.run([sys.executable, "-m", "chinwag", "db", "upgrade"], env=env, check=True)
        log = (Path(tmp) / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "-c", BOOT], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    ready = time.time()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        tail = Path(log.name).read_text()[-3000:]
                        raise SystemExit(f"the server did not start:\n{tail}") from None
                    time.sleep(0.5)
            time.sleep(args.settle)
            t0, x0 = time.time(), asyncio.run(xacts(database))
            time.sleep(args.seconds)
            t1, x1 = time.time(), asyncio.run(xacts(database))
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        traced = transactions(trace, t0, t1)
        starting = transactions(trace, 0, ready)
        settling = transactions(trace, ready, t0)
    return t0, t1, x0, x1, traced, starting, settling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the idle window")
    parser.add_argument("--settle", type=float, default=10.0, help="wait before the window")
    parser.add_argument("--heartbeat", type=float, default=None, help="CHINWAG_HEARTBEAT_SECONDS")
    parser.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="the chinwag source to run (a `git archive` of another commit's src/)",
    )
    parser.add_argument("--label", default=None, help="what --src is (a commit), for the result")
    args = parser.parse_args()
    out = result_path("idle-transactions", "md", variant="postgres")  # stamped at the start
    database = f"chinwag_idle_{os.getpid()}"
    port = free_port()
    code = args.label or commit()
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}"'))
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    try:
        t0, t1, x0, x1, traced, starting, settling = measure(args, database, port)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))

    window = t1 - t0
    copy_stdout_to(out)
    print("# One idle `chinwag serve` on PostgreSQL: transactions per second\n")
    print(f"Commit {code}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(t0))}; window")
    print(f"{window:.1f} s after {args.settle:.0f} s of settling; heartbeat")
    print(f"{args.heartbeat or 'default'} s. Command: `python bench/idle_transactions.py`.\n")
    print("| counted by | transactions | per second |")
    print("|---|---|---|")
    print(f"| PostgreSQL (pg_stat_database) | {x1 - x0} | {(x1 - x0) / window:.2f} |")
    print(f"| the server (SQLAlchemy) | {len(traced)} | {len(traced) / window:.2f} |\n")
    print(f"Before the window, the server made {len(starting)} transactions until `/healthz`")
    print(f"answered (`chinwag serve` start-up), then {len(settling)} while settling.\n")
    print("The server's transactions in the window, by their statements:\n")
    print("| count | per second | statements (BEGIN … COMMIT) |")
    print("|---|---|---|")
    by_kind = collections.Counter(traced)
    for statements, n in by_kind.most_common():
        shown = " ; ".join(f"`{s}`" for s in statements)
        print(f"| {n} | {n / window:.2f} | {shown} |")


if __name__ == "__main__":
    main()
