#!/usr/bin/env python3
"""answer_cost.py - an answer's CPU split in two: what every answer costs once, and each token.

Issue 15 asks for <= 3 ms of CPU per 64-token answer at saturation. This script says which part
of an answer that figure is made of, for chinwag's `main`-only bot and, in the same run, for the
harness's raw byte relay (`passthrough`: FastAPI relaying the LLM's bytes, no parsing, no log):

  fixed      CPU per answer when the fake LLM sends ONE token at once (no delays), at c=20: the
             request, authentication, the accept transaction, the prompt, the LLM request, the
             answer's end. The server is saturated, so this is CPU per answer at saturation.
  64 tokens  CPU per answer with the usual fake LLM (first token after 50 ms, 64 tokens 10 ms
             apart) at c=200: the issue's figure.
  per token  (64 tokens - fixed) / 63: what each further token costs (read, log, send).

CPU is the server process's own (user + system, from /proc via the load generator's
`--cpu`); the server runs alone on core 1, the fake LLM and the load generator on core 0, as in
bench/harness/run_peers.sh. PostgreSQL's own CPU is not included (run_streaming.sh reports it).

    /tmp/venv-harness/bin/python bench/answer_cost.py                      # ~4 min
    /tmp/venv-harness/bin/python bench/answer_cost.py --dbs sqlite --rounds 2
    (the table goes to bench/results/answer-cost-<stamp>.md and .json; --out PATH for elsewhere)

Needs the harness venvs (`LOCKED=1 bash bench/harness/setup_venvs.sh`: the harness for the load
generator and the fake LLM, `minimal` for the passthrough peer), the project venv and, for
PostgreSQL, a server on 127.0.0.1:5432 (the database `--pg-db` is dropped and recreated). The
code measured is the last commit's src/ (`--source worktree` for the files as they are).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from accept_latency import HARNESS, ROOT, Proc, port_free, prepare_db, snapshot_source, wait_http
from result_files import result_path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Scenario:
    name: str
    tokens: int
    delay_ms: float
    ttft_ms: float
    concurrency: int
    requests: int


SCENARIOS = (
    Scenario("fixed", tokens=1, delay_ms=0, ttft_ms=0, concurrency=20, requests=2000),
    Scenario("64 tokens", tokens=64, delay_ms=10, ttft_ms=50, concurrency=200, requests=1600),
)


@dataclass
class Target:
    name: str
    url: str
    fmt: str
    headers: list[str]
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    ready: str


def chinwag_target(db: str, args: argparse.Namespace, work: Path) -> Target:
    """`chinwag demo` on a fresh database with bench/bots/plain.yaml and an admin key."""
    datadir = work / db
    datadir.mkdir(parents=True, exist_ok=True)
    url = prepare_db(db, args, datadir)
    env = {**os.environ, "CHINWAG_DATABASE_URL": url, "CHINWAG_DATA_DIR": str(datadir)}
    env["PYTHONPATH"] = args.pythonpath

    def cli(*argv: str) -> str:
        done = subprocess.run(
            [str(args.chinwag), *argv], cwd=datadir, env=env, check=True, timeout=300,
            capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout

    cli("db", "upgrade")
    made = cli("keys", "create", "--kind", "admin", "--name", "answer-cost")
    key = next(line.split(":", 1)[1].strip() for line in made.splitlines() if "key:" in line)
    cli("bots", "import", str(BENCH / "bots" / "plain.yaml"))
    limits = {f"CHINWAG_RATE_LIMIT_{k}": "1000000/minute" for k in ("KEY", "USER", "IP")}
    return Target(
        name=f"chinwag `main` only, {db}",
        url=f"http://127.0.0.1:{args.port}/v1/bots/plain/messages",
        fmt=f"{BENCH / 'chinwag_format.py'}:ChinwagFormat",
        headers=[f"Authorization: Bearer {key}"],
        argv=[str(args.chinwag), "demo", "--host", "127.0.0.1", "--port", str(args.port)],
        env={**env, **limits, "CHINWAG_LLM_MODEL": "fake-gpt"},
        cwd=datadir,
        ready=f"http://127.0.0.1:{args.port}/healthz",
    )


def passthrough_target(args: argparse.Namespace) -> Target:
    uvicorn = Path(args.venv_minimal) / "bin" / "uvicorn"
    argv = [str(uvicorn), "passthrough_app:app", "--host", "127.0.0.1", "--port", str(args.port)]
    return Target(
        name="passthrough (raw byte relay)",
        url=f"http://127.0.0.1:{args.port}/v1/chat/completions",
        fmt="openai",
        headers=[],
        argv=[*argv, "--log-level", "warning"],
        env=dict(os.environ),
        cwd=BENCH / "peers",
        ready=f"http://127.0.0.1:{args.port}/docs",
    )


def load(target: Target, scenario: Scenario, requests: int, args: argparse.Namespace,
         *extra: str) -> None:  # fmt: skip
    """One closed-loop run of the harness's load generator (`extra`: more of its options)."""
    argv = [
        "taskset", "-c", str(args.core_harness), sys.executable, str(HARNESS / "loadgen.py"),
        "--url", target.url, "--format", target.fmt, "-c", str(scenario.concurrency),
        "-n", str(requests), "--warmup", "0",
        "--max-time", "60", "--grace", "60", "--request-timeout", "90",
        "--expect-tokens", str(scenario.tokens), "--quiet", "--label", target.name, *extra,
    ]  # fmt: skip
    for header in target.headers:
        argv += ["--header", header]
    subprocess.run(argv, check=True, timeout=300, stdout=subprocess.DEVNULL)


def measure(target: Target, scenario: Scenario, args: argparse.Namespace, work: Path,
            fake_url: str, run: int) -> dict:  # fmt: skip
    """Start the target on its own core, warm it up, and measure one run of the scenario."""
    env = {**target.env, "FAKE_LLM_URL": fake_url, "CHINWAG_LLM_BASE_URL": fake_url}
    server = Proc(
        target.name,
        ["taskset", "-c", str(args.core_sut), *target.argv],
        env=env,
        cwd=str(target.cwd),
        log=work / f"server-{run}.log",
    )
    out = work / "runs.jsonl"
    try:
        wait_http(target.ready, server, 90)
        load(target, scenario, 2 * scenario.concurrency, args)  # warm-up, not recorded
        load(target, scenario, scenario.requests, args,
             "--cpu", f"server={server.pid}", "--out", str(out))  # fmt: skip
    finally:
        server.stop()
    line = json.loads(out.read_text().splitlines()[-1])
    return {
        "target": target.name,
        "scenario": scenario.name,
        "ok": line["ok"],
        "errors": line["errors"],
        "answers_per_s": line["rps"],
        "ttft_p50_ms": line["ttft_ms"]["p50"],
        "cpu_ms": line["cpu_ms_per_req"]["server"],
        "server_core": line["cpu_util"]["server"],
    }


def per_token_us(full_ms: float, fixed_ms: float) -> float:
    """CPU of each token after the first, in µs, from a 64-token and a 1-token answer."""
    return (full_ms - fixed_ms) / 63 * 1000


def table(rows: list[dict], code: str) -> str:
    by = {(r["target"], r["scenario"]): r for r in rows}
    targets = list(dict.fromkeys(r["target"] for r in rows))
    relay_fixed = by[(targets[0], "fixed")]["cpu_ms"]
    relay_token = per_token_us(by[(targets[0], "64 tokens")]["cpu_ms"], relay_fixed)
    lines = [
        f"answer_cost.py, chinwag {code}, {time.strftime('%Y-%m-%d %H:%M')}, one core",
        "",
        "| target | fixed: ms per 1-token answer (answers/s) | ms per 64-token answer at c=200 "
        "(answers/s) | µs per further token | fixed × relay | per token × relay |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets:
        fixed, full = by[(t, "fixed")], by[(t, "64 tokens")]
        per_token = per_token_us(full["cpu_ms"], fixed["cpu_ms"])
        lines.append(
            f"| {t} | {fixed['cpu_ms']:.2f} ({fixed['answers_per_s']:.0f}) | "
            f"{full['cpu_ms']:.2f} ({full['answers_per_s']:.0f}) | {per_token:.0f} | "
            f"{fixed['cpu_ms'] / relay_fixed:.2f} | {per_token / relay_token:.2f} |"
        )
    errors = sum(r["errors"] for r in rows)
    lines += ["", f"errors: {errors} (every answer checked for its exact token count)"]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--dbs", nargs="+", default=["sqlite", "postgres"])
    ap.add_argument("--rounds", type=int, default=1, help="runs per target; the table keeps the "
                    "lowest CPU of each (the machine's noise only ever adds)")  # fmt: skip
    ap.add_argument("--fake-port", type=int, default=8920)
    ap.add_argument("--port", type=int, default=8925)
    ap.add_argument("--core-harness", type=int, default=0)
    ap.add_argument("--core-sut", type=int, default=1)
    ap.add_argument(
        "--chinwag",
        type=Path,
        default=Path(os.environ.get("CHINWAG_VENV", ROOT / ".venv"), "bin", "chinwag"),
        help="the chinwag executable (default: $CHINWAG_VENV/bin/chinwag, else .venv/bin/chinwag)",
    )
    ap.add_argument("--venv-minimal", default=os.environ.get("VENV_MINIMAL", "/tmp/venv-minimal"))
    ap.add_argument("--pg-admin-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pg-db", default="chinwag_answer_cost")
    ap.add_argument("--work", type=Path, default=Path("/tmp/chinwag-bench"))
    ap.add_argument("--source", choices=["head", "worktree"], default="head")
    ap.add_argument(
        "--out",
        type=Path,
        default=result_path("answer-cost", "md"),
        help="the table (+ .json next to it); default bench/results/answer-cost-<stamp>.md",
    )
    args = ap.parse_args()

    for port in (args.fake_port, args.port):
        if not port_free(port):
            raise SystemExit(f"port {port} is in use on 127.0.0.1")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = args.work / f"answer-cost-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True, exist_ok=True)
    args.pythonpath, code = snapshot_source(args.source, work)
    print(f"measuring chinwag {code}; logs in {work}", file=sys.stderr)
    rows: list[dict] = []
    try:
        targets = [passthrough_target(args), *(chinwag_target(db, args, work) for db in args.dbs)]
        for scenario in SCENARIOS:
            fake = Proc(
                "fakellm",
                ["taskset", "-c", str(args.core_harness), sys.executable,
                 str(HARNESS / "fakellm.py"), "--host", "127.0.0.1", "--port", str(args.fake_port),
                 "--tokens", str(scenario.tokens), "--token-delay-ms", str(scenario.delay_ms),
                 "--ttft-ms", str(scenario.ttft_ms)],
                log=work / f"fakellm-{scenario.tokens}.log",
            )  # fmt: skip
            try:
                wait_http(f"http://127.0.0.1:{args.fake_port}/health", fake, 20)
                fake_url = f"http://127.0.0.1:{args.fake_port}/v1"
                for _ in range(args.rounds):
                    for target in targets:
                        row = measure(target, scenario, args, work, fake_url, len(rows))
                        print(json.dumps(row), file=sys.stderr)
                        rows.append(row)
            finally:
                fake.stop()
    finally:
        Proc.stop_all()

    def key(row: dict) -> tuple[str, str]:
        return row["target"], row["scenario"]

    # The lowest CPU of each target and scenario, in the order measured (the relay first).
    best = [
        min((r for r in rows if key(r) == k), key=lambda r: r["cpu_ms"])
        for k in dict.fromkeys(map(key, rows))
    ]
    text = table(best, code)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
