"""memory_bench.py - resident memory of one chinwag worker serving the demo bot, after warm-up.

    .venv/bin/python bench/memory_bench.py                          # onnx and torch, both LLMs
    .venv/bin/python bench/memory_bench.py --runtimes onnx --llms fake
    (results: bench/results/memory-<stamp>.json; --out PATH for elsewhere)

For each embedding runtime (`CHINWAG_EMBEDDING_RUNTIME`: onnx, torch) and each LLM (`fake`: an
OpenAI-compatible fake server in this process, so no local LLM is loaded; `local`: the embedded
local model, smollm2-135m on llama.cpp), on a fresh SQLite database and data directory:

1. `chinwag db upgrade`, `chinwag keys create --kind admin` (rate limits raised as well), then
   `chinwag demo` until it answers /healthz (it puts the demo bot in the database and ingests its
   knowledge), then stopped: the worker measured below does not carry the ingestion.
2. `chinwag serve` (one uvicorn worker, one process) on the same data; VmRSS once it answers.
3. Warm-up: `--warmup` messages of the demo's labelled routing set (router, curated answers,
   retrieval, table lookup, flows), `--concurrency` at once, each read to `stream.completed`.
4. Measured: `--messages` more; the worker's VmRSS and VmHWM (peak) after them, its CPU per
   message (user + system over the phase, all threads), and which native runtimes it has mapped.

Each variant's database and logs (demo.log, serve.log; ~2 MB) stay in
/tmp/chinwag-memory-<runtime>-<llm>-*/. Every process it starts is stopped by PID; each phase
is bounded by a message count and a time limit. About 1-2 minutes per variant on 2 cores (the
local LLM's answers take longer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from result_files import result_path

from chinwag.testing.fake_llm import FakeLLM, free_port

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = ROOT / "tests/data/routing/vinhuset.yaml"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LIBRARIES = {"torch": "libtorch_cpu", "onnxruntime": "onnxruntime", "llama.cpp": "libllama"}


def status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM and VmRSS's anonymous and file-backed parts (RssAnon: the heap, model
    weights, Python objects; RssFile: the pages of mapped libraries) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            values[key] = int(rest.split()[0]) // 1024
    return values


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime of all its threads


def mapped(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name, lib in LIBRARIES.items() if lib in maps]


def largest_files(pid: int, count: int = 12) -> dict[str, int]:
    """The mapped files (shared libraries, model files) holding the most resident memory, MB."""
    sizes: dict[str, int] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and not head[0].endswith(":"):  # a mapping's header line
            name = head[5] if len(head) > 5 else "[anon]"
        elif head and head[0] == "Rss:":
            sizes[name] = sizes.get(name, 0) + int(head[1])
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:count]
    return {Path(k).name if k.startswith("/") else k: round(v / 1024, 1) for k, v in top}


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Server:
    """A chinwag command in its own process group, stopped by PID."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}: {self._log.name}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"no answer from {url} within {timeout} s: {self._log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


async def send(
    base: str, key: str, texts: list[str], concurrency: int, time_limit: float
) -> dict[str, int]:
    """Each text as a message, `concurrency` at once, each stream read to its end."""
    queue = list(texts)
    counts = {"completed": 0, "failed": 0}
    deadline = time.monotonic() + time_limit
    headers = {"authorization": f"Bearer {key}", "accept": "text/event-stream"}

    async def worker(client: httpx.AsyncClient) -> None:
        while queue and time.monotonic() < deadline:
            text = queue.pop()
            ok = False
            async with client.stream(
                "POST", f"{base}/v1/bots/vinhuset/messages", json={"message": text}
            ) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:") and '"type":"stream.completed"' in line:
                        ok = '"status":"completed"' in line
                        break
            counts["completed" if ok else "failed"] += 1

    async with httpx.AsyncClient(headers=headers, timeout=120) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return counts


def measure(runtime: str, llm: str, args: argparse.Namespace, fake: FakeLLM) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"chinwag-memory-{runtime}-{llm}-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "CHINWAG_DATA_DIR": str(work),
        "CHINWAG_DATABASE_URL": f"sqlite+aiosqlite:///{work}/chinwag.db",
        "CHINWAG_EMBEDDING_RUNTIME": runtime,
        "CHINWAG_PORT": str(port),
        "CHINWAG_RATE_LIMIT_KEY": "1000000/minute",
        "CHINWAG_RATE_LIMIT_USER": "1000000/minute",
        "CHINWAG_RATE_LIMIT_IP": "1000000/minute",
    }
    env.pop("CHINWAG_LLM_BASE_URL", None)
    if llm == "fake":
        env |= {"CHINWAG_LLM_BASE_URL": fake.base_url, "CHINWAG_LLM_MODEL": "fake-gpt"}
    chinwag = str(args.chinwag)
    run([chinwag, "db", "upgrade"], env, work)
    created = run([chinwag, "keys", "create", "--kind", "admin", "--name", "bench"], env, work)
    found = re.search(r"^\s*key:\s*(\S+)", created, re.MULTILINE)
    if found is None:
        raise SystemExit(f"no key in the output of `chinwag keys create`:\n{created}")
    key = found.group(1)
    seed = Server([chinwag, "demo"], env, work, work / "demo.log")
    try:
        seed.wait_ready(f"{base}/healthz", 300)
    finally:
        seed.stop()

    server = Server([chinwag, "serve"], env, work, work / "serve.log")
    try:
        server.wait_ready(f"{base}/healthz", 120)
        pid = server.proc.pid
        result: dict[str, Any] = {"runtime": runtime, "llm": llm, "started_mb": status(pid)}
        texts = [m["text"] for m in yaml.safe_load(MESSAGES.read_text())["messages"]]
        warmup = (texts * 10)[: args.warmup]
        measured = (texts * 10)[args.warmup : args.warmup + args.messages]
        result["warmup"] = asyncio.run(send(base, key, warmup, args.concurrency, args.time_limit))
        ticks = cpu_ticks(pid)
        result["measured"] = asyncio.run(
            send(base, key, measured, args.concurrency, args.time_limit)
        )
        spent_ms = (cpu_ticks(pid) - ticks) * 1000 / CLK_TCK
        answered = sum(result["measured"].values())
        result["cpu_ms_per_message"] = round(spent_ms / answered, 1) if answered else None
        result["after_mb"] = status(pid)
        result["mapped"] = mapped(pid)
        result["largest_mb"] = largest_files(pid)
        return result
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtimes", nargs="+", default=["onnx", "torch"])
    ap.add_argument("--llms", nargs="+", default=["fake", "local"])
    ap.add_argument("--warmup", type=int, default=40, help="warm-up messages")
    ap.add_argument("--messages", type=int, default=60, help="measured messages")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per phase at most")
    ap.add_argument(
        "--chinwag",
        type=Path,
        default=Path(os.environ.get("CHINWAG_VENV", ROOT / ".venv"), "bin", "chinwag"),
        help="the chinwag executable (default: $CHINWAG_VENV/bin/chinwag, else .venv/bin/chinwag)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=result_path("memory", "json"),
        help="the results as JSON; default bench/results/memory-<stamp>.json",
    )
    args = ap.parse_args()

    rows = []
    with FakeLLM() as fake:
        fake.behaviour.tokens = 32
        fake.behaviour.token_delay = 0.005
        for llm in args.llms:
            for runtime in args.runtimes:
                row = measure(runtime, llm, args, fake)
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    print(
        "| embedding runtime | LLM | VmRSS at start MB | VmRSS after warm-up MB "
        "| of which anonymous / file-backed MB | peak (VmHWM) MB | CPU ms/message "
        "| messages ok/failed | native runtimes mapped |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        llm = "fake server (no local LLM)" if r["llm"] == "fake" else "local (smollm2-135m)"
        ok = r["warmup"]["completed"] + r["measured"]["completed"]
        failed = r["warmup"]["failed"] + r["measured"]["failed"]
        after = r["after_mb"]
        print(
            f"| {r['runtime']} | {llm} | {r['started_mb']['VmRSS']} | {after['VmRSS']} "
            f"| {after['RssAnon']} / {after['RssFile']} | {after['VmHWM']} "
            f"| {r['cpu_ms_per_message']} | {ok}/{failed} | {', '.join(r['mapped'])} |"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
