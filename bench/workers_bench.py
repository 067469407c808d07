#!/usr/bin/env python3
"""workers_bench.py - chinwag on 1, 2 and 4 workers (PostgreSQL + Redis): answers/s, streams per
worker, database writes and Redis commands per answer, and the wait of a follower on another worker.

Part 1: `chinwag serve --workers N` (fresh database, a bot with `main` only, a bot secret key, rate
limits raised, CHINWAG_REDIS_URL on a redis-server of our own) under the load generator with
chinwag_format.py against the fake LLM (first token after 50 ms, 64 tokens 10 ms apart); deltas of
pg_stat_database, pg_stat_user_tables and INFO commandstats around each window; open streams per
worker sampled from `streams` every 0.5 s. Part 2: two `chinwag serve` A and B on two ports; each
probe sends a message to A and follows its stream on A and on B at once; each event's arrival is
compared with its `created_at` (stamped by A's event log just before the batch's INSERT + COMMIT).
bench/README.md ("Workers") says what each figure means.

    python bench/workers_bench.py --quick        # smoke test (~2 min, tiny counts)
    python bench/workers_bench.py                # workers 1 2 4, c=50 and 200, followers (~5 min)

Binds 127.0.0.1 only; every load is bounded by a count and a time; every process it starts is
stopped by its PID (chinwag's workers through the process group started for it). The server runs
this worktree's src/; the results name its commit (and say if src/ had uncommitted changes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from redis.asyncio import Redis

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HARNESS = BENCH / "harness"
sys.path.insert(0, str(HARNESS))
from loadgen import pct, tree_cpu_ticks  # type: ignore[import-not-found]  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
BOT = 'id: bench\nname: Bench\nflows: {main: {system: Be brief., template: "{{ message }}"}}\n'
RAISED = "1000000/minute"
OPEN_SQL = "select worker_id, count(*) from streams where status = 'streaming' group by 1"
DONE_SQL = "select worker_id, count(*) from streams where status = 'completed' group by 1"
PG_SQL = (
    "select xact_commit, xact_rollback, tup_inserted + tup_updated + tup_deleted as rows"
    " from pg_stat_database where datname = $1"
)
Row = dict[str, Any]
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Proc:
    """A process this script started; stopped by its PID (TERM, then KILL to its own group)."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.name, self.log = name, log
        with open(log, "wb") as out:
            self.p = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(25)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)  # the group created for it (start_new_session)
                self.p.wait(5)

    def wait_http(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                tail = self.log.read_text(errors="replace").splitlines()[-10:]
                raise SystemExit(f"{self.name} exited while starting:\n  " + "\n  ".join(tail))
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.25)
        raise SystemExit(f"{self.name}: no answer from {url} after {timeout:g} s")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def stats(vals: list[float]) -> dict[str, float]:
    v = sorted(vals)
    return {"p50": pct(v, 50), "p99": pct(v, 99), "n": len(v)}


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path, pythonpath: str) -> None:
        self.a, self.work = args, work
        self.db_url = f"{PG}/{args.pg_db}"
        self.env = {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "CHINWAG_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.pg_db}",
            "CHINWAG_DATA_DIR": str(work / "data"),
            "CHINWAG_REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/0",
            "CHINWAG_SECRET_KEY": "workers-bench-" + "x" * 32,  # the same on every server
            "CHINWAG_LLM_BASE_URL": f"http://127.0.0.1:{args.fake_port}/v1",
            "CHINWAG_LLM_MODEL": "fake-gpt",
            **{f"CHINWAG_RATE_LIMIT_{k}": RAISED for k in ("KEY", "IP", "USER")},
        }
        self.own_txns = 0  # transactions this script ran in the benchmark database

    def chinwag(self, *argv: str) -> str:
        argv = (sys.executable, "-m", "chinwag", *argv)
        done = subprocess.run(argv, env=self.env, cwd=self.work, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(argv[2:])} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def fresh_database(self) -> str:
        """Drop and create the database, upgrade it, import the bot; -> a new bot secret key."""
        for sql in (f"drop database if exists {self.a.pg_db}", f"create database {self.a.pg_db}"):
            subprocess.run(["psql", "-q", f"{PG}/test", "-c", sql], check=True, capture_output=True)
        (self.work / "bot.yaml").write_text(BOT)
        self.chinwag("db", "upgrade")
        self.chinwag("bots", "import", "bot.yaml")
        out = self.chinwag("keys", "create", "--kind", "secret", "--bot", "bench", "--name", "b")
        return next(line.split()[-1] for line in out.splitlines() if "key: " in line)

    def serve(self, port: int, workers: int, name: str) -> Proc:
        argv = [sys.executable, "-m", "chinwag", "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--workers", str(workers)]
        proc = Proc(name, argv, self.work / f"{name}.log", self.env)
        proc.wait_http(f"http://127.0.0.1:{port}/healthz", 90)
        return proc

    async def fetch(self, conn: asyncpg.Connection, sql: str) -> dict[Any, Any]:
        self.own_txns += 1
        return {r[0]: r[1] for r in await conn.fetch(sql)}

    async def snapshot(self, admin: asyncpg.Connection, conn: asyncpg.Connection, r: Redis) -> Row:
        own = self.own_txns  # before this snapshot's own reads, which land in the next window
        pg = dict(await admin.fetchrow(PG_SQL, self.a.pg_db))
        tables = "select relname, n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables"
        return {
            "pg": pg,
            "own": own,
            "tables": await self.fetch(conn, tables),
            "done": await self.fetch(conn, DONE_SQL),
            "redis": {k[8:]: v["calls"] for k, v in (await r.info("commandstats")).items()},
        }

    async def sample_open(self, conn: asyncpg.Connection, stop: asyncio.Event) -> list[Row]:
        samples = []
        while not stop.is_set():
            samples.append(await self.fetch(conn, OPEN_SQL))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        return samples

    async def loadgen(
        self, key: str | None, c: int, n: int, cpu: dict[str, int], ramp: float
    ) -> Row:
        """The load generator against chinwag (`key`), or against the fake LLM directly (None:
        the `direct` baseline of the same run)."""
        if key is None:
            url = f"http://127.0.0.1:{self.a.fake_port}/v1/chat/completions"
            fmt = "openai"
        else:
            url = f"http://127.0.0.1:{self.a.port}/v1/bots/bench/messages"
            fmt = f"{BENCH / 'chinwag_format.py'}:ChinwagFormat"
        argv = [sys.executable, str(HARNESS / "loadgen.py"), "--quiet", "--warmup", "0"]
        argv += ["--url", url, "--format", fmt, "-c", str(c), "-n", str(n), "--expect-tokens"]
        argv += ["64", "--max-time", str(self.a.max_time), "--ramp-up", str(ramp)]
        if key is not None:
            argv += ["--header", f"Authorization: Bearer {key}"]
        argv += [f"--cpu={name}={pid}" for name, pid in cpu.items()]
        p = await asyncio.create_subprocess_exec(*argv, stdout=-1, stderr=-1)
        out, err = await p.communicate()
        if p.returncode:
            raise SystemExit(f"loadgen failed ({p.returncode}):\n{err.decode()[-2000:]}")
        result: Row = json.loads(out.decode().splitlines()[-1])
        return result

    async def throughput(self, workers: int, key: str, cpu: dict[str, int], log: Path) -> list[Row]:
        admin = await asyncpg.connect(f"{PG}/test")
        conn = await asyncpg.connect(self.db_url)
        redis = Redis(host="127.0.0.1", port=self.a.redis_port)
        rows = []
        for _ in range(120):  # until every worker has registered
            live = await self.fetch(conn, "select id, pid from workers where stopped_at is null")
            if len(live) >= workers:
                break
            await asyncio.sleep(0.5)
        warm = await self.loadgen(key, min(20, self.a.warmup), self.a.warmup, cpu, 0)
        if not warm["ok"]:
            raise SystemExit(f"warm-up: every request failed {warm['error_kinds']}; see {log}")
        # An idle PostgreSQL backend flushes its statistics within 10 s (PGSTAT_IDLE_INTERVAL):
        # every snapshot follows `settle` idle seconds, and ends one window and starts the next.
        await asyncio.sleep(self.a.settle)
        s0 = await self.snapshot(admin, conn, redis)
        for c in self.a.concurrency:
            stop = asyncio.Event()
            sampler = asyncio.create_task(self.sample_open(conn, stop))
            load = await self.loadgen(key, c, self.a.requests * c, cpu, 0.7)
            stop.set()
            samples = await sampler
            if not load["ok"]:
                raise SystemExit(f"{workers} workers, c={c}: every request failed "
                                 f"{load['error_kinds']}; see {log}")  # fmt: skip
            await asyncio.sleep(self.a.settle)
            s1 = await self.snapshot(admin, conn, redis)
            rows.append(summarise(workers, c, load, s0, s1, samples))
            print({k: rows[-1][k] for k in ("c", *LOAD.values(), *COST.values())}, file=sys.stderr)
            s0 = s1
        await redis.aclose()
        await conn.close()
        await admin.close()
        return rows

    async def followers(self, c: int, key: str, a: int, b: int, pids: dict[str, int]) -> Row:
        """`c` probes in a closed loop for max_time: generate on A, follow on A and on B."""
        body = json.dumps({"message": "Say something about foxes."}).encode()
        post = {"Content-Type": "application/json", "Accept": "application/json"}
        arrivals: dict[str, tuple[float, dict[int, float], dict[int, float]]] = {}
        errors: dict[str, int] = {}
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=3 * c + 5, family=socket.AF_INET),
            timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
            headers={"Authorization": f"Bearer {key}"},
        )

        async def follow(port: int, stream_url: str, seen: dict[int, float]) -> float:
            async with session.get(f"http://127.0.0.1:{port}{stream_url}") as resp:
                connected = time.time()
                if resp.status != 200:
                    raise RuntimeError(f"follow_http_{resp.status}")
                buf = b""
                async for chunk in resp.content.iter_any():
                    now = time.time()
                    *frames, buf = (buf + chunk).split(b"\n\n")
                    for frame in frames:
                        if frame.startswith(b"id: "):
                            seen[int(frame[4 : frame.index(b"\n")])] = now
                            if b"event: stream.completed" in frame:
                                return connected
            raise RuntimeError("no_stream_completed")

        async def probe() -> None:
            url = f"http://127.0.0.1:{a}/v1/bots/bench/messages"
            async with session.post(url, data=body, headers=post) as resp:
                if resp.status != 202:
                    raise RuntimeError(f"http_{resp.status}")
                ids = await resp.json()
            same: dict[int, float] = {}
            other: dict[int, float] = {}
            on_a = follow(a, ids["stream_url"], same)
            connected = await asyncio.gather(on_a, follow(b, ids["stream_url"], other))
            arrivals[ids["stream_id"]] = (max(connected), same, other)

        deadline = time.monotonic() + self.a.max_time

        async def loop(i: int) -> None:
            await asyncio.sleep(0.7 * i / c)
            while time.monotonic() < deadline and len(arrivals) < self.a.requests * c:
                try:
                    await probe()
                except (RuntimeError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                    kind = str(exc) if isinstance(exc, RuntimeError) else type(exc).__name__
                    errors[kind] = errors.get(kind, 0) + 1

        ticks0, ru0, t0 = {k: tree_cpu_ticks(p) for k, p in pids.items()}, cpu_self(), time.time()
        async with session:
            await asyncio.gather(*(loop(i) for i in range(c)))
        wall = time.time() - t0
        cores = {k: (tree_cpu_ticks(p) - ticks0[k]) / CLK_TCK / wall for k, p in pids.items()}
        cores["client"] = (cpu_self() - ru0) / wall
        conn = await asyncpg.connect(self.db_url)
        sql = "select stream_id, seq, extract(epoch from created_at)::float8 from stream_events"
        rows = await conn.fetch(sql + " where stream_id = any($1::text[])", list(arrivals))
        await conn.close()
        same_ms, other_ms, diff_ms = [], [], []
        for stream_id, seq, stamped in rows:
            connected, same, other = arrivals[stream_id]
            if stamped > connected and seq in same and seq in other:
                same_ms.append(1000 * (same[seq] - stamped))
                other_ms.append(1000 * (other[seq] - stamped))
                diff_ms.append(1000 * (other[seq] - same[seq]))
        if not diff_ms:
            raise SystemExit(f"followers c={c}: no event reached both followers; errors {errors}")
        row = {"c": c, "streams": len(arrivals), "errors": errors, "n_errors": sum(errors.values())}
        row |= {"events": len(diff_ms), "same_worker_ms": stats(same_ms), "cores": cores}
        return row | {"other_worker_ms": stats(other_ms), "other_minus_same_ms": stats(diff_ms)}


def per(delta: float, answers: int) -> float | None:
    return round(delta / answers, 2) if answers else None


def summarise(workers: int, c: int, load: Row, s0: Row, s1: Row, samples: list[Row]) -> Row:
    done = sorted((n - s0["done"].get(w, 0) for w, n in s1["done"].items()), reverse=True)
    answers = sum(done)
    d = {k: s1["pg"][k] - s0["pg"][k] for k in s1["pg"]}
    own = s1["own"] - s0["own"]  # the script's own reads: sampling and snapshots
    redis = {k: v - s0["redis"].get(k, 0) for k, v in s1["redis"].items() if k != "info"}
    tables = {k: v - s0["tables"].get(k, 0) for k, v in s1["tables"].items()}
    busy = [s for s in samples if s] or [{"-": 0}]
    cpu_ms = load["cpu_ms_per_req"]
    return {
        "workers": workers,
        "c": c,
        "answers_s": load["rps"],
        "ok_errors": f"{load['ok']}/{load['errors']}",
        "errors": load["errors"],
        "error_kinds": load["error_kinds"],
        "ttft_ms": load["ttft_ms"],
        "total_ms": load["total_ms"],
        "open_per_worker": statistics.median(sum(s.values()) / workers for s in busy),
        "open_busiest_worker": statistics.median(max(s.values()) for s in busy),
        "answers_per_worker": "/".join(map(str, done)),
        "chinwag_cores": load["cpu_util"]["chinwag"],
        "chinwag_cpu_ms_per_answer": cpu_ms["chinwag"],
        "answers_per_chinwag_core_s": round(load["ok"] / load["cpu_s"]["chinwag"], 1),
        "postgres_cpu_ms_per_answer": cpu_ms.get("postgres"),
        "redis_cpu_ms_per_answer": cpu_ms.get("redis"),
        "answers_in_db_window": answers,
        "pg_commits_per_answer": per(d["xact_commit"] - own, answers),
        "pg_rollbacks_per_answer": per(d["xact_rollback"], answers),
        "pg_rows_written_per_answer": per(d["rows"], answers),
        "pg_rows_per_answer_by_table": {k: per(v, answers) for k, v in tables.items() if v},
        "redis_commands_per_answer": per(sum(redis.values()), answers),
        "redis_per_answer_by_command": {k: per(v, answers) for k, v in redis.items() if v},
    }


LOAD = {"answers/s": "answers_s", "ok/errors": "ok_errors", "TTFT p50 / p99 ms": "ttft_ms",
        "open streams per worker": "open_per_worker",
        "busiest worker": "open_busiest_worker", "answers per worker": "answers_per_worker",
        "chinwag cores": "chinwag_cores"}  # fmt: skip
COST = {"chinwag CPU ms": "chinwag_cpu_ms_per_answer",
        "answers per chinwag core-s": "answers_per_chinwag_core_s",
        "PG commits": "pg_commits_per_answer", "PG rollbacks": "pg_rollbacks_per_answer",
        "PG rows written": "pg_rows_written_per_answer",
        "Redis commands": "redis_commands_per_answer", "PG CPU ms": "postgres_cpu_ms_per_answer",
        "Redis CPU ms": "redis_cpu_ms_per_answer"}  # fmt: skip
FOLLOW = {"streams": "streams", "errors": "n_errors", "same worker p50 / p99 ms": "same_worker_ms",
          "other worker p50 / p99 ms": "other_worker_ms",
          "other - same p50 / p99 ms": "other_minus_same_ms", "events": "events",
          "cores used": "cores"}  # fmt: skip


def cell(x: Any) -> str:
    if isinstance(x, dict) and "p50" not in x:
        return ", ".join(f"{k} {v:.2f}" for k, v in x.items())
    if isinstance(x, dict):
        return f"{cell(x['p50'])} / {cell(x['p99'])}"
    if isinstance(x, float):
        return f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return "-" if x is None else str(x)


def table(rows: list[Row], columns: dict[str, str], keys: tuple[str, ...]) -> list[str]:
    out = ["| " + " | ".join([*keys, *columns]) + " |", "|" + "---:|" * (len(keys) + len(columns))]
    for r in rows:
        out.append("| " + " | ".join(cell(r[k]) for k in [*keys, *columns.values()]) + " |")
    return out


def scaling(rows: list[Row], direct: list[Row]) -> list[str]:
    """Answers/s of N workers over one worker's, and TTFT p50 over direct's, at each concurrency."""
    lines = ["| workers | c | answers/s × 1 worker | TTFT p50 × direct |", "|---|---|---|---|"]
    one = {r["c"]: r["answers_s"] for r in rows if r["workers"] == 1}
    base = {r["c"]: r["ttft_ms"]["p50"] for r in direct}
    for r in rows:
        speed = r["answers_s"] / one[r["c"]] if one.get(r["c"]) else None
        ttft = r["ttft_ms"]["p50"] / base[r["c"]] if base.get(r["c"]) else None
        shown = [f"{x:.2f}" if x is not None else "-" for x in (speed, ttft)]
        lines.append(f"| {r['workers']} | {r['c']} | {shown[0]} | {shown[1]} |")
    return lines


def markdown(rows: list[Row], follow: list[Row], meta: str, direct: list[Row]) -> str:
    out = [meta, "", *table(rows, LOAD, ("workers", "c")), ""]
    if direct:
        out += ["Direct (the fake LLM without chinwag, same run):", ""]
        out += table(direct, {"answers/s": "answers_s", "TTFT p50 / p99 ms": "ttft_ms"}, ("c",))
        out += ["", *scaling(rows, direct), ""]
    out += ["Per answer:", ""]
    out += table(rows, COST, ("workers", "c"))
    for r in rows[-1:]:
        tables, cmds = r["pg_rows_per_answer_by_table"], r["redis_per_answer_by_command"]
        out += ["", f"Per answer, {r['workers']} workers, c={r['c']}: rows written by table "
                f"{tables}; Redis commands {cmds}"]  # fmt: skip
    out += ["", "Followers (generated on A; followed on A and on B):", ""]
    out += table(follow, FOLLOW, ("c",))
    return "\n".join(out) + "\n"


def measured_code() -> str:
    """The commit, and a mark if src/ differs from it (the server runs this worktree's src/)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "src"], capture_output=True, text=True)
    return head.stdout.strip() + ("+uncommitted src" if dirty.stdout.strip() else "")


def run(args: argparse.Namespace) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = Path("/tmp/chinwag-bench") / f"workers-{stamp}"
    (work / "data").mkdir(parents=True)
    code = measured_code()
    load0 = os.getloadavg()
    print(f"measuring chinwag {code}; logs in {work}; load {load0}", file=sys.stderr)
    for port in (args.redis_port, args.fake_port, args.port, args.port + 1):
        if not port_free(port):
            raise SystemExit(f"port {port} is in use on 127.0.0.1")
    procs: list[Proc] = []
    rows: list[Row] = []
    follow: list[Row] = []
    direct: list[Row] = []
    bench = Bench(args, work, str(ROOT / "src"))
    try:
        redis_argv = ["redis-server", "--port", str(args.redis_port), "--bind", "127.0.0.1"]
        redis = Proc("redis", [*redis_argv, "--save", "", "--appendonly", "no"], work / "r.log")
        procs.append(redis)
        fake_argv = [sys.executable, str(HARNESS / "fakellm.py"), "--port", str(args.fake_port)]
        fake_argv += ["--tokens", "64", "--token-delay-ms", "10", "--ttft-ms", "50"]
        procs.append(Proc("fakellm", fake_argv, work / "fakellm.log"))
        procs[-1].wait_http(f"http://127.0.0.1:{args.fake_port}/health", 20)
        pm = subprocess.run(["pgrep", "-o", "-x", "postgres"], capture_output=True, text=True)
        cpu = {"redis": redis.pid} | ({"postgres": int(pm.stdout)} if pm.stdout.strip() else {})
        for c in args.concurrency:  # the baseline: the fake LLM without chinwag, same run
            load = asyncio.run(bench.loadgen(None, c, args.requests * c, {}, 0.7))
            direct.append({"c": c, "answers_s": load["rps"], "ttft_ms": load["ttft_ms"]})
            print(f"    direct c={c}: {direct[-1]}", file=sys.stderr, flush=True)
        for n in args.workers:
            print(f">>> chinwag serve --workers {n}", file=sys.stderr, flush=True)
            key = bench.fresh_database()
            server = bench.serve(args.port, n, f"chinwag-w{n}")
            try:
                rows += asyncio.run(
                    bench.throughput(n, key, {"chinwag": server.pid, **cpu}, server.log)
                )
            finally:
                server.stop()
        if args.follow_concurrency:
            print(">>> followers: generate on A, follow on A and on B", file=sys.stderr)
            key = bench.fresh_database()
            procs.append(bench.serve(args.port, 1, "chinwag-A"))
            procs.append(bench.serve(args.port + 1, 1, "chinwag-B"))
            pids = {"A": procs[-2].pid, "B": procs[-1].pid}
            for c in args.follow_concurrency:
                follow.append(asyncio.run(bench.followers(c, key, args.port, args.port + 1, pids)))
                print(f"    c={c}: {follow[-1]}", file=sys.stderr, flush=True)
    finally:
        for proc in reversed(procs):
            proc.stop()
        drop = f"drop database if exists {args.pg_db}"
        subprocess.run(["psql", "-q", f"{PG}/test", "-c", drop], capture_output=True)
    load1 = os.getloadavg()
    meta = (
        f"workers bench {stamp}, chinwag {code}, {os.cpu_count()} cores, nothing pinned; load "
        f"average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load0)}, after "
        f"{'/'.join(f'{x:.2f}' for x in load1)}; fake LLM 64 tokens, first after 50 ms, 10 ms "
        f"apart; {args.requests}*c answers or {args.max_time:g} s per row"
    )
    text = markdown(rows, follow, meta, direct)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"workers-{stamp}{'-quick' if args.quick else ''}"  # bench/result_files.py's scheme
    (args.out / f"{name}.md").write_text(text)
    with open(args.out / f"{name}.jsonl", "a") as out:
        head = {"meta": meta, "commit": code, "load_before": load0, "load_after": load1}
        for line in [head, *rows, *({"follower": r} for r in follow)]:
            out.write(json.dumps(line) + "\n")
    return 1 if any(r["errors"] for r in rows + follow) else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--workers", nargs="*", type=int, default=[1, 2, 4])
    ap.add_argument("--concurrency", nargs="+", type=int, default=[50, 200])
    ap.add_argument("--follow-concurrency", nargs="*", type=int, default=[10, 50])
    ap.add_argument("--requests", type=int, default=5, help="answers per row: this many times c")
    ap.add_argument("--max-time", type=float, default=20.0, help="no new request after (s)")
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--settle", type=float, default=11.0, help="idle s before each snapshot")
    ap.add_argument("--quick", action="store_true", help="smoke test: tiny counts")
    ap.add_argument("--port", type=int, default=8941, help="chinwag (A); B is the next port")
    ap.add_argument("--fake-port", type=int, default=8940)
    ap.add_argument("--redis-port", type=int, default=6396)
    ap.add_argument("--pg-db", default="chinwag_wbench", help="dropped and created per run")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    args = ap.parse_args()
    if args.quick:
        args.workers, args.concurrency, args.follow_concurrency = [1, 2], [20], [5]
        args.requests, args.max_time, args.warmup = 2, 5.0, 10
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
