#!/usr/bin/env python3
"""accept_breakdown.py - chinwag's accept transaction alone, without HTTP, statement by statement.

Runs what `Generations.accept` runs (one `Database.write()` transaction: `get_bot_version` and
`accept_message` for a new anonymous user and session) N times in a row against a fresh
database, in this process, and prints:

  * wall time per transaction (p50 / p99), and CPU time per transaction (this process only;
    for PostgreSQL the server's own work is not included);
  * how many SQL statements one accept sends, and the mean wall time of each kind
    (from SQLAlchemy's before/after_cursor_execute events, i.e. compile not included).

Run it with the project venv, pinned to one core like the server:

    taskset -c 1 .venv/bin/python bench/accept_breakdown.py --db sqlite
    taskset -c 1 .venv/bin/python bench/accept_breakdown.py --db postgres  # fresh db
    taskset -c 1 .venv/bin/python bench/accept_breakdown.py --db postgres --no-pre-ping  # what-if

It imports chinwag from the venv (the working tree). To time the last commit instead, export it
and put it first: `git archive HEAD src | tar -x -C /tmp/cw && PYTHONPATH=/tmp/cw/src ...`.

Read-only with respect to src/: it imports chinwag and calls its functions.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from result_files import copy_stdout_to, result_path
from sqlalchemy import event

from chinwag.bots.demo import demo_bot_config
from chinwag.bots.service import get_bot_version, put_bot
from chinwag.conversations.service import accept_message
from chinwag.db.migrate import ensure_schema
from chinwag.db.uow import Database


def pct(v: list[float], p: float) -> float:
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def kind(sql: str) -> str:
    s = " ".join(sql.split())
    m = re.match(r"(INSERT INTO|UPDATE|SELECT .*? FROM|DELETE FROM)\s+(\w+)", s, re.I)
    if not m:
        return s[:40]
    verb = m.group(1).split()[0].upper()
    extra = " ON CONFLICT" if "ON CONFLICT" in s.upper() else ""
    extra += " RETURNING" if " RETURNING " in s.upper() else ""
    return f"{verb} {m.group(2)}{extra}"


async def main_async(args: argparse.Namespace) -> None:
    if args.db == "sqlite":
        tmp = tempfile.mkdtemp(prefix="chinwag-breakdown-")
        url = f"sqlite+aiosqlite:///{tmp}/b.db"
    else:
        admin = args.pg_admin_url
        for sql in (f"drop database if exists {args.pg_db}", f"create database {args.pg_db}"):
            subprocess.run(  # noqa: ASYNC221 - setup, before anything is timed
                ["psql", "-q", admin, "-c", sql], check=True, stdout=subprocess.DEVNULL
            )
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.pg_db}"
        from chinwag.db import migrate

        db0 = Database.from_url(url)
        await migrate.upgrade(db0)
        await db0.dispose()
    if args.no_pre_ping and args.db == "postgres":
        from sqlalchemy.ext.asyncio import create_async_engine

        # what-if: the same pool as chinwag.db.engine.create_engine, without pool_pre_ping
        db = Database(
            create_async_engine(
                url, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=1800
            )
        )
    else:
        db = Database.from_url(url)
    await ensure_schema(db)
    async with db.write() as conn:
        await put_bot(conn, demo_bot_config())

    stmt_times: dict[str, list[float]] = collections.defaultdict(list)
    counting = {"on": False, "n": 0}
    starts: dict[int, float] = {}

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        starts[id(cursor)] = time.perf_counter()

    @event.listens_for(db.engine.sync_engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        if counting["on"]:
            stmt_times[kind(statement)].append(
                time.perf_counter() - starts.pop(id(cursor), time.perf_counter())
            )
            counting["n"] += 1

    async def one() -> None:
        async with db.write() as conn:
            version = await get_bot_version(conn, "vinhuset")
            await accept_message(
                conn,
                bot_id="vinhuset",
                bot_version=version,
                text="When are you open?",
                user_external_id=None,
                session_external_id=None,
                worker_id=None,
            )

    for _ in range(args.warmup):
        await one()
    walls, cpus = [], []
    counting["on"] = True
    for _ in range(args.n):
        c0, t0 = time.process_time(), time.perf_counter()
        await one()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if args.gap_ms:
            await asyncio.sleep(args.gap_ms / 1000)  # like c=1: the loop goes idle between accepts
    counting["on"] = False
    await db.dispose()
    if args.db == "sqlite":
        shutil.rmtree(tmp, ignore_errors=True)
    ms = lambda x: f"{x * 1000:.2f}"  # noqa: E731
    pp = " (pool_pre_ping off)" if args.no_pre_ping and args.db == "postgres" else ""
    print(f"accept transaction on {args.db}{pp}, {args.n} runs ({args.gap_ms:g} ms idle between)")
    print(
        f"  wall p50 {ms(pct(walls, 50))} ms, p99 {ms(pct(walls, 99))} ms; "
        f"CPU of this process p50 {ms(pct(cpus, 50))} ms (mean {ms(sum(cpus) / len(cpus))} ms)"
    )
    print(f"  statements per accept: {counting['n'] / args.n:.1f} (BEGIN/COMMIT not counted)")
    for k, v in sorted(stmt_times.items(), key=lambda kv: -sum(kv[1])):
        print(f"    {len(v) / args.n:4.1f} x {k:40s} mean {sum(v) / len(v) * 1000:6.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--gap-ms", type=float, default=20.0)
    ap.add_argument(
        "--no-pre-ping",
        action="store_true",
        help="postgres what-if: build the engine without pool_pre_ping (chinwag sets it)",
    )
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pg-db", default="chinwag_breakdown")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write what is printed here; default results/accept-breakdown-<stamp>-<db>.md",
    )
    args = ap.parse_args()
    args.out = args.out or result_path("accept-breakdown", "md", variant=args.db)
    copy_stdout_to(args.out)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main_async(args))
    if args.db == "postgres":
        subprocess.run(
            ["psql", "-q", args.pg_admin_url, "-c", f"drop database if exists {args.pg_db}"],
            check=False,
            stdout=subprocess.DEVNULL,
        )


if __name__ == "__main__":
    main()
