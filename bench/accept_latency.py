#!/usr/bin/env python3
"""accept_latency.py - how long chinwag takes to accept a message, on SQLite and PostgreSQL.

Two figures, each at concurrency 1 and 50:

  SSE first byte   time from sending `POST /v1/bots/vinhuset/messages` (Accept: text/event-stream)
                   to the first byte of the response body (the `retry: 2000` line, which chinwag
                   sends right after the accept transaction has committed). Also recorded: the
                   time to the response headers and to the first `message.delta` (TTFT).
  healthz          `GET /healthz` round trip at c=1: the HTTP floor (client + loopback + uvicorn +
                   FastAPI), to read the two figures above against.
  JSON 202         round trip of the same POST with `Accept: application/json`: until the whole
                   202 body (the ids) has been read. The worker then follows the stream
                   (`GET /v1/streams/{id}/events`) to `stream.completed` before its next POST, so
                   both rows carry the same load: C answers being generated at once.

The fake LLM sends its first token 0 ms after the request (`--ttft-ms 0`), then 63 more 10 ms
apart, so at c=50 about 50 answers stream while the accepts are measured.

Process layout like bench/harness/run_peers.sh: the fake LLM and this client on core 0, the
chinwag server (`chinwag demo`) alone on core 1. Every process it starts is stopped by PID; every
loop is bounded by a request count and a time limit.

    /tmp/venv-harness/bin/python bench/accept_latency.py                 # both databases (~4 min)
    /tmp/venv-harness/bin/python bench/accept_latency.py --dbs sqlite --n1 20 --n50 200   # quick
    (the table goes to bench/results/accept-<stamp>.md and .json; --out PATH for elsewhere)

The code measured is the last commit: src/ is exported with `git archive HEAD` and put first on the
server's PYTHONPATH (`--source worktree` measures the working tree instead).

Needs the harness venv (aiohttp, uvloop; `LOCKED=1 bash bench/harness/setup_venvs.sh`), the project
venv (.venv/bin/chinwag, or $CHINWAG_VENV/bin/chinwag) and, for PostgreSQL, a server on
127.0.0.1:5432 where user `postgres` may create databases (the database `--pg-db`, default
chinwag_accept, is dropped and recreated).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from time import perf_counter
from typing import ClassVar

import aiohttp
from result_files import result_path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
HARNESS = BENCH / "harness"
CLK_TCK = os.sysconf("SC_CLK_TCK")
sys.path.insert(0, str(HARNESS))
from loadgen import SSEParser, pct, tree_cpu_ticks  # noqa: E402


# ------------------------------------------------------------------ processes we start
class Proc:
    """A child process started by this script, stopped by its PID only."""

    started: ClassVar[list[Proc]] = []

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        log: Path,
    ) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "wb")  # noqa: SIM115
        self.p = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.pid = self.p.pid
        Proc.started.append(self)

    def stop(self) -> None:
        if self.p.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(5)
        self._log.close()
        if self in Proc.started:
            Proc.started.remove(self)

    @classmethod
    def stop_all(cls) -> None:
        for proc in list(reversed(cls.started)):
            try:
                proc.stop()
            except Exception as exc:  # keep stopping the others
                print(f"stopping {proc.name} ({proc.pid}): {exc}", file=sys.stderr)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_http(url: str, proc: Proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.p.poll() is not None:
            tail = proc.log_path.read_text(errors="replace").splitlines()[-8:]
            raise SystemExit(f"{proc.name} exited while starting:\n  " + "\n  ".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.25)
    raise SystemExit(f"timeout waiting for {url}")


def psql(admin_url: str, *sql: str) -> None:
    argv = ["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_url]
    for s in sql:
        argv += ["-c", s]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=60)


# ------------------------------------------------------------------------- the client
class Sample:
    __slots__ = ("err", "first", "headers", "rt", "ttft")

    def __init__(self) -> None:
        self.headers = self.first = self.ttft = self.rt = None
        self.err: str | None = None


async def read_to_end(resp: aiohttp.ClientResponse, t0: float, s: Sample | None) -> str | None:
    """Read an SSE body until stream.completed; fills first byte / TTFT of `s`. -> error or None."""
    parser = SSEParser()
    status = None
    async for chunk in resp.content.iter_any():
        now = perf_counter()
        if s is not None and s.first is None and chunk:
            s.first = now - t0
        for ev, data in parser.feed(chunk):
            if (
                ev == "message.delta"
                and s is not None
                and s.ttft is None
                and b'"text":""' not in data
            ):
                s.ttft = now - t0
            elif ev == "error":
                return "stream_error:" + data[:60].decode(errors="replace")
            elif ev == "stream.completed":
                status = json.loads(data).get("status")
    if status is None:
        return "no_stream_completed"
    return None if status == "completed" else f"stream_{status}"


async def sse_request(session: aiohttp.ClientSession, base: str, body: bytes) -> Sample:
    s = Sample()
    t0 = perf_counter()
    async with session.post(
        f"{base}/v1/bots/vinhuset/messages",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
    ) as resp:
        s.headers = perf_counter() - t0
        if resp.status != 200:
            await resp.read()
            s.err = f"http_{resp.status}"
            return s
        s.err = await read_to_end(resp, t0, s)
    s.rt = perf_counter() - t0
    return s


async def json_request(session: aiohttp.ClientSession, base: str, body: bytes) -> Sample:
    s = Sample()
    t0 = perf_counter()
    async with session.post(
        f"{base}/v1/bots/vinhuset/messages",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    ) as resp:
        s.headers = perf_counter() - t0
        raw = await resp.read()
        s.rt = perf_counter() - t0
        if resp.status != 202:
            s.err = f"http_{resp.status}"
            return s
    ids = json.loads(raw)
    # Keep one answer per worker in flight, as in the SSE case: follow it to its end.
    async with session.get(
        f"{base}{ids['stream_url']}", headers={"Accept": "text/event-stream"}
    ) as r:
        if r.status != 200:
            await r.read()
            s.err = f"follow_http_{r.status}"
        else:
            s.err = await read_to_end(r, perf_counter(), None)
    return s


async def healthz_request(session: aiohttp.ClientSession, base: str, body: bytes) -> Sample:
    s = Sample()
    t0 = perf_counter()
    async with session.get(f"{base}/healthz") as resp:
        s.headers = perf_counter() - t0
        await resp.read()
        s.rt = perf_counter() - t0
        if resp.status != 200:
            s.err = f"http_{resp.status}"
    return s


def demo_secret_key(log: Path) -> str:
    """The secret key `chinwag demo` printed (a new one each start)."""
    found = re.search(r"secret key:\s+(cw_sk_\S+)", log.read_text())
    if found is None:
        raise SystemExit(f"no secret key in {log}: has `chinwag demo` changed its output?")
    return found.group(1)


async def run(
    base: str,
    mode: str,
    c: int,
    n: int,
    warmup: int,
    max_time: float,
    ramp_up: float,
    request_timeout: float,
    server_pid: int,
    key: str,
) -> dict:
    body = json.dumps({"message": "When are you open on Saturday?"}).encode()
    fn = {"sse": sse_request, "json": json_request, "healthz": healthz_request}[mode]
    conn = aiohttp.TCPConnector(limit=c + 5, keepalive_timeout=120, family=socket.AF_INET)
    timeout = aiohttp.ClientTimeout(total=request_timeout, sock_connect=10)
    auth = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=conn, timeout=timeout, headers=auth) as session:

        async def loop(
            count: int, conc: int, deadline: float, out: list[Sample], ramp: float
        ) -> None:
            started = 0

            async def worker(i: int) -> None:
                nonlocal started
                if ramp > 0 and conc > 1:
                    await asyncio.sleep(ramp * i / conc)
                while started < count and perf_counter() < deadline:
                    started += 1
                    try:
                        out.append(await fn(session, base, body))
                    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                        bad = Sample()
                        bad.err = type(exc).__name__
                        out.append(bad)

            tasks = [asyncio.ensure_future(worker(i)) for i in range(conc)]
            _, pending = await asyncio.wait(
                tasks, timeout=max(0.0, deadline - perf_counter()) + request_timeout + 5
            )
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        if warmup:
            await loop(warmup, min(c, warmup), perf_counter() + max_time, [], 0.0)
        samples: list[Sample] = []
        cpu0 = tree_cpu_ticks(server_pid)
        t0 = perf_counter()
        await loop(n, c, t0 + max_time, samples, ramp_up)
        wall = perf_counter() - t0
        cpu = (tree_cpu_ticks(server_pid) - cpu0) / CLK_TCK
    ok = [s for s in samples if s.err is None]
    errors: dict[str, int] = {}
    for s in samples:
        if s.err:
            errors[s.err] = errors.get(s.err, 0) + 1

    def stats(vals: list[float | None]) -> dict | None:
        v = sorted(x * 1000 for x in vals if x is not None)
        if not v:
            return None
        return {
            "p50": round(pct(v, 50), 2),
            "p99": round(pct(v, 99), 2),
            "mean": round(sum(v) / len(v), 2),
            "max": round(v[-1], 2),
            "n": len(v),
        }

    main = [s.first for s in ok] if mode == "sse" else [s.rt for s in ok]
    return {
        "mode": mode,
        "c": c,
        "requests": len(samples),
        "ok": len(ok),
        "errors": errors,
        "wall_s": round(wall, 2),
        "latency_ms": stats(main),
        "headers_ms": stats([s.headers for s in ok]),
        "ttft_ms": stats([s.ttft for s in ok]) if mode == "sse" else None,
        "server_cpu_ms_per_req": round(1000 * cpu / len(ok), 2) if ok else None,
        "server_core": round(cpu / wall, 2) if wall else None,
    }


# ---------------------------------------------------------------------------- driver
def snapshot_source(source: str, work: Path, ref: str = "HEAD") -> tuple[str, str]:
    """-> (PYTHONPATH for the server, a label of the code measured)."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if source == "worktree":
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.count("\n")
        return "", f"{commit}+worktree({dirty} changed in src)"
    dest = work / f"src-{commit}"
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return str(dest / "src"), commit


def prepare_db(db: str, args: argparse.Namespace, datadir: Path) -> str:
    if db == "sqlite":
        return f"sqlite+aiosqlite:///{datadir}/accept.db"
    if db == "postgres":
        psql(
            args.pg_admin_url,
            f"drop database if exists {args.pg_db}",
            f"create database {args.pg_db}",
        )
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{args.pg_db}"
        subprocess.run(
            [str(args.chinwag), "db", "upgrade"],
            check=True,
            cwd=datadir,
            timeout=120,
            env={**os.environ, "CHINWAG_DATABASE_URL": url, "PYTHONPATH": args.pythonpath},
            stdout=subprocess.DEVNULL,
        )
        return url
    raise SystemExit(f"unknown database {db!r}")


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def markdown(rows: list[dict], meta: str, target_ms: float) -> str:
    lines = [
        meta,
        "",
        "| what | db | c | ok/requests | p50 ms | p99 ms | max ms | headers p50 ms | TTFT p50 ms | "
        "server CPU ms/req | server core |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lat, hdr, ttft = r["latency_ms"] or {}, r["headers_ms"] or {}, r["ttft_ms"] or {}
        what = {
            "sse": "SSE POST -> first body byte",
            "json": "JSON POST -> 202 body",
            "healthz": "GET /healthz round trip (floor)",
        }[r["mode"]]
        err = f" ({r['errors']})" if r["errors"] else ""
        cells = [
            what,
            r["db"],
            str(r["c"]),
            f"{r['ok']}/{r['requests']}{err}",
            fmt(lat.get("p50")),
            fmt(lat.get("p99")),
            fmt(lat.get("max")),
            fmt(hdr.get("p50")),
            fmt(ttft.get("p50")) if r["mode"] == "sse" else "-",
            fmt(r["server_cpu_ms_per_req"]),
            fmt(r["server_core"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        f"Target: accept (SSE first byte) p50 <= {target_ms:g} ms at c=1 on both databases."
    )
    for r in rows:
        if r["mode"] == "sse" and r["c"] == 1 and r["latency_ms"]:
            p50 = r["latency_ms"]["p50"]
            lines.append(
                f"- {r['db']}: p50 {p50:.2f} ms -> {'MET' if p50 <= target_ms else 'NOT MET'}"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--dbs", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    ap.add_argument(
        "--modes",
        nargs="+",
        default=["healthz", "sse", "json"],
        choices=["healthz", "sse", "json"],
        help="healthz (c=1 only: the HTTP floor), sse, json",
    )
    ap.add_argument("--concurrency", nargs="+", type=int, default=[1, 50])
    ap.add_argument("--ref", default="HEAD", help="the commit whose src/ is measured (A/B runs)")
    ap.add_argument("--n1", type=int, default=60, help="measured requests at c=1")
    ap.add_argument("--n50", type=int, default=500, help="measured requests at c>1")
    ap.add_argument(
        "--max-time",
        type=float,
        default=45.0,
        help="no new request after this (s), per measurement",
    )
    ap.add_argument("--request-timeout", type=float, default=30.0)
    ap.add_argument("--ramp-up", type=float, default=0.7)
    ap.add_argument("--fake-port", type=int, default=8910)
    ap.add_argument("--port", type=int, default=8915, help="chinwag port")
    ap.add_argument("--fake-tokens", type=int, default=64)
    ap.add_argument("--fake-delay-ms", type=float, default=10.0)
    ap.add_argument("--fake-ttft-ms", type=float, default=0.0)
    ap.add_argument("--core-harness", type=int, default=0)
    ap.add_argument("--core-sut", type=int, default=1)
    ap.add_argument(
        "--chinwag",
        type=Path,
        default=Path(os.environ.get("CHINWAG_VENV", ROOT / ".venv"), "bin", "chinwag"),
        help="the chinwag executable (default: $CHINWAG_VENV/bin/chinwag, else .venv/bin/chinwag)",
    )
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pg-db", default="chinwag_accept")
    ap.add_argument("--work", type=Path, default=Path("/tmp/chinwag-bench"))
    ap.add_argument("--target-ms", type=float, default=5.0)
    ap.add_argument(
        "--source",
        choices=["head", "worktree"],
        default="head",
        help="head: git archive HEAD of src/ (default); worktree: the files as they are",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=result_path("accept", "md"),
        help="the markdown table (+ .json next to it); default bench/results/accept-<stamp>.md",
    )
    args = ap.parse_args()

    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    os.sched_setaffinity(0, {args.core_harness})
    for port in (args.fake_port, args.port):
        if not port_free(port):
            raise SystemExit(f"port {port} is in use on 127.0.0.1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = args.work / f"accept-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    args.pythonpath, code = snapshot_source(args.source, work, args.ref)
    print(f"measuring chinwag {code}", file=sys.stderr)
    rows: list[dict] = []
    try:
        fake = Proc(
            "fakellm",
            [
                "taskset",
                "-c",
                str(args.core_harness),
                py,
                str(HARNESS / "fakellm.py"),
                "--host",
                "127.0.0.1",
                "--port",
                str(args.fake_port),
                "--tokens",
                str(args.fake_tokens),
                "--token-delay-ms",
                str(args.fake_delay_ms),
                "--ttft-ms",
                str(args.fake_ttft_ms),
            ],
            log=work / "fakellm.log",
        )
        wait_http(f"http://127.0.0.1:{args.fake_port}/health", fake, 20)
        for db in args.dbs:
            datadir = work / db
            datadir.mkdir(exist_ok=True)
            url = prepare_db(db, args, datadir)
            env = {
                **os.environ,
                "PYTHONPATH": args.pythonpath,
                "CHINWAG_DATABASE_URL": url,
                "CHINWAG_DATA_DIR": str(datadir),
                "CHINWAG_LLM_BASE_URL": f"http://127.0.0.1:{args.fake_port}/v1",
                "CHINWAG_LLM_MODEL": "fake-gpt",
                # Measure accepting, not the limits: every request is a new anonymous end user
                # on the demo's secret key.
                "CHINWAG_RATE_LIMIT_KEY": "1000000/minute",
                "CHINWAG_RATE_LIMIT_IP": "1000000/minute",
                "CHINWAG_RATE_LIMIT_USER": "1000000/minute",
            }
            server = Proc(
                f"chinwag-{db}",
                [
                    "taskset",
                    "-c",
                    str(args.core_sut),
                    str(args.chinwag),
                    "demo",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(args.port),
                ],
                env=env,
                cwd=str(datadir),
                log=work / f"chinwag-{db}.log",
            )
            try:
                wait_http(f"http://127.0.0.1:{args.port}/healthz", server, 90)
                key = demo_secret_key(work / f"chinwag-{db}.log")
                base = f"http://127.0.0.1:{args.port}"
                for mode in args.modes:
                    for c in args.concurrency:
                        if mode == "healthz" and c != 1:
                            continue
                        n = args.n1 if c == 1 else args.n50
                        print(f">>> {db} {mode} c={c} n={n}", file=sys.stderr, flush=True)
                        r = asyncio.run(
                            run(
                                base,
                                mode,
                                c,
                                n,
                                warmup=min(10, n),
                                max_time=args.max_time,
                                ramp_up=args.ramp_up,
                                request_timeout=args.request_timeout,
                                server_pid=server.pid,
                                key=key,
                            )
                        )
                        r["db"] = db
                        lat = r["latency_ms"] or {}
                        print(
                            f"    ok {r['ok']}/{r['requests']} p50 {lat.get('p50')} ms "
                            f"p99 {lat.get('p99')} ms errors {r['errors'] or 0}",
                            file=sys.stderr,
                            flush=True,
                        )
                        rows.append(r)
            finally:
                server.stop()
        fake.stop()
    finally:
        Proc.stop_all()
    if "postgres" in args.dbs:
        try:
            psql(args.pg_admin_url, f"drop database if exists {args.pg_db}")
        except Exception as exc:
            print(f"could not drop {args.pg_db}: {exc}", file=sys.stderr)
    shutil.rmtree(work / "sqlite", ignore_errors=True)

    meta = (
        f"accept latency, {stamp}, chinwag {code}: fake LLM {args.fake_tokens} tokens, "
        f"first after {args.fake_ttft_ms:g} ms, {args.fake_delay_ms:g} ms apart; "
        f"chinwag (`chinwag demo`, one process) on core {args.core_sut}, fake LLM + client on "
        f"core {args.core_harness}; warm-up 10 requests per row; logs {work}"
    )
    text = markdown(rows, meta, args.target_ms)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(
            json.dumps({"commit": code, "rows": rows}, indent=1) + "\n"
        )
    return 0 if rows and all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
