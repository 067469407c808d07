#!/usr/bin/env python3
"""handoff_latency.py - how long a person's message takes to reach the visitor, and the visitor's
to reach the person, when they are on two different chinwag servers (issue "Human handoff").

Two `chinwag serve` A and B (PostgreSQL, a redis-server of our own for the fan-out, the fake LLM
for the bot's first answers) share one database. N conversations are opened on A, each asks for a
person on A and is claimed on B. Every conversation's session events are then followed twice: on A
(the visitor's widget) and on B (the operator's console), 2N open streams. Probes, one every
1/rate s, alternate: an operator's message POSTed on B and seen on A as `message.created`, and a
visitor's message POSTed on A and seen on B. The latency is from just before the POST to the
event's arrival on the other server, so it includes the POST, its commit and the relay.

    python bench/handoff_latency.py --quick    # 20 conversations, 40 probes (~1 min)
    python bench/handoff_latency.py            # 200 conversations, 400 probes (~2 min)

Binds 127.0.0.1 only; the probes are bounded by a count; every process it starts is stopped by
its PID. The results name the commit measured (bench/README.md, "Handoff latency").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from workers_bench import HARNESS, PG, ROOT, Bench, Proc, measured_code, port_free  # noqa: E402

BOT = (
    "id: bench\nname: Bench\nhandoff: {enabled: true}\n"
    'flows: {main: {system: Be brief., template: "{{ message }}"}}\n'
)
Arrivals = dict[tuple[str, str], float]  # (side, message id) -> when it arrived


class HandoffBench(Bench):
    def fresh_database(self) -> str:
        """The workers bench's database, with a bot whose handoff is on."""
        for sql in (f"drop database if exists {self.a.pg_db}", f"create database {self.a.pg_db}"):
            subprocess.run(["psql", "-q", f"{PG}/test", "-c", sql], check=True, capture_output=True)
        (self.work / "bot.yaml").write_text(BOT)
        self.chinwag("db", "upgrade")
        self.chinwag("bots", "import", "bot.yaml")
        out = self.chinwag("keys", "create", "--kind", "secret", "--bot", "bench", "--name", "b")
        return next(line.split()[-1] for line in out.splitlines() if "key: " in line)


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any], want: int) -> Any:
    async with http.post(url, json=body, headers={"accept": "application/json"}) as response:
        if response.status != want:
            raise SystemExit(f"POST {url}: {response.status} {await response.text()}")
        return await response.json()


async def open_conversation(http: aiohttp.ClientSession, a: str, b: str, i: int) -> None:
    """A visitor's first message and request for a person on A; the claim on B."""
    session = f"s{i}"
    first = {"message": "Hei!", "user_id": f"u{i}", "session_id": session}
    await post(http, f"{a}/v1/bots/bench/messages", first, 202)
    await post(http, f"{a}/v1/bots/bench/sessions/{session}/handoff", {}, 200)
    await post(http, f"{b}/v1/bots/bench/sessions/{session}/handoff/claim", {"name": "Kari"}, 200)


async def follow(
    http: aiohttp.ClientSession, base: str, side: str, session: str, seen: Arrivals, ready: Any
) -> None:
    """Follow a session's events; note when each `message.created` arrives."""
    url = f"{base}/v1/bots/bench/sessions/{session}/events"
    async with http.get(url, timeout=aiohttp.ClientTimeout(total=None)) as response:
        response.raise_for_status()
        ready()
        async for raw in response.content:
            line = raw.decode().strip()
            if not line.startswith("data:"):
                continue
            event = json.loads(line[5:])
            if event.get("type") == "message.created":
                seen.setdefault((side, event["message_id"]), time.monotonic())


async def measure(args: argparse.Namespace, key: str) -> dict[str, Any]:
    a, b = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    headers = {"authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
        gate = asyncio.Semaphore(20)

        async def opened(i: int) -> None:
            async with gate:
                await open_conversation(http, a, b, i)

        await asyncio.gather(*(opened(i) for i in range(args.conversations)))
        seen: Arrivals = {}
        connected = 0
        everyone = asyncio.Event()

        def ready() -> None:
            nonlocal connected
            connected += 1
            if connected == 2 * args.conversations:
                everyone.set()

        followers = [
            asyncio.create_task(follow(http, base, side, f"s{i}", seen, ready))
            for i in range(args.conversations)
            for base, side in ((a, "visitor"), (b, "operator"))
        ]
        await asyncio.wait_for(everyone.wait(), 60)
        await asyncio.sleep(1.0)  # past each follower's catch-up from the log
        sent: dict[tuple[str, str], float] = {}
        for k in range(args.probes):
            i = random.randrange(args.conversations)
            started = time.monotonic()
            if k % 2 == 0:  # the operator writes on B; the visitor's widget follows A
                url = f"{b}/v1/bots/bench/sessions/s{i}/handoff/messages"
                out = await post(http, url, {"message": f"operator {k}"}, 201)
                sent[("visitor", out["message_id"])] = started
            else:  # the visitor writes on A (stored, no bot answer); the console follows B
                body = {"message": f"visitor {k}", "user_id": f"u{i}", "session_id": f"s{i}"}
                out = await post(http, f"{a}/v1/bots/bench/messages", body, 202)
                sent[("operator", out["user_message_id"])] = started
            await asyncio.sleep(max(0.0, 1 / args.rate - (time.monotonic() - started)))
        await asyncio.sleep(10 if any(m not in seen for m in sent) else 0)  # stragglers
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    found: dict[str, Any] = {}
    for side, label in (("visitor", "operator → visitor"), ("operator", "visitor → operator")):
        ms = sorted((seen[m] - t) * 1000 for m, t in sent.items() if m[0] == side and m in seen)
        lost = sum(1 for m in sent if m[0] == side and m not in seen)
        found[label] = {
            "n": len(ms),
            "lost": lost,
            "p50": statistics.median(ms),
            "p95": ms[max(0, round(0.95 * len(ms)) - 1)],
            "max": ms[-1],
        }
    return found


def run(args: argparse.Namespace) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = Path("/tmp/chinwag-bench") / f"handoff-{stamp}"
    (work / "data").mkdir(parents=True)
    for port in (args.redis_port, args.fake_port, args.port, args.port + 1):
        if not port_free(port):
            raise SystemExit(f"port {port} is in use on 127.0.0.1")
    code, load0 = measured_code(), os.getloadavg()
    bench = HandoffBench(args, work, str(ROOT / "src"))
    procs: list[Proc] = []
    try:
        redis_argv = ["redis-server", "--port", str(args.redis_port), "--bind", "127.0.0.1"]
        procs.append(Proc("redis", [*redis_argv, "--save", "", "--appendonly", "no"], work / "r"))
        fake = [sys.executable, str(HARNESS / "fakellm.py"), "--port", str(args.fake_port)]
        procs.append(Proc("fakellm", [*fake, "--tokens", "8"], work / "fakellm.log"))
        procs[-1].wait_http(f"http://127.0.0.1:{args.fake_port}/health", 20)
        key = bench.fresh_database()
        procs.append(bench.serve(args.port, 1, "chinwag-A"))
        procs.append(bench.serve(args.port + 1, 1, "chinwag-B"))
        found = asyncio.run(measure(args, key))
    finally:
        for proc in reversed(procs):
            proc.stop()
        drop = f"drop database if exists {args.pg_db}"
        subprocess.run(["psql", "-q", f"{PG}/test", "-c", drop], capture_output=True)
    load1 = os.getloadavg()
    lines = [
        f"Handoff latency {stamp}, chinwag {code}, {os.cpu_count()} cores: two servers (A, B) on "
        f"PostgreSQL + Redis, {args.conversations} conversations claimed, "
        f"{2 * args.conversations} session streams open, {args.probes} probes at {args.rate:g}/s; "
        f"load average before {'/'.join(f'{x:.2f}' for x in load0)}, after "
        f"{'/'.join(f'{x:.2f}' for x in load1)}",
        "",
        "| direction | messages | lost | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for label, f in found.items():
        lines.append(
            f"| {label} | {f['n']} | {f['lost']} | {f['p50']:.1f} | {f['p95']:.1f} "
            f"| {f['max']:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"handoff-latency-{stamp}{'-quick' if args.quick else ''}"
    (args.out / f"{name}.md").write_text(text)
    return 1 if any(f["lost"] for f in found.values()) else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--conversations", type=int, default=200)
    ap.add_argument("--probes", type=int, default=400)
    ap.add_argument("--rate", type=float, default=5.0, help="probes per second")
    ap.add_argument("--port", type=int, default=8730, help="A; B is the next port")
    ap.add_argument("--redis-port", type=int, default=6393)
    ap.add_argument("--fake-port", type=int, default=8739)
    ap.add_argument("--pg-db", default="chinwag_handoff_bench")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    ap.add_argument("--quick", action="store_true", help="20 conversations, 40 probes")
    args = ap.parse_args()
    if args.quick:
        args.conversations, args.probes = 20, 40
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
