#!/usr/bin/env python3
"""demo_first_answer.py - how long a new user waits for a first answer from `make demo`.

Times `chinwag demo` from the command's start to: its secret key printed (the demo bot seeded and
its knowledge ingested), /healthz 200, the first non-empty `message.delta` of a first answer, and
that answer's `stream.completed`. The question is one the quickstart suggests, sent over HTTP with
SSE (httpx) with the secret key the demo prints. Each run gets a fresh CHINWAG_DATA_DIR (seeding
included, as for a new user) and a free port on 127.0.0.1; a restart reuses a run's data dir.

With --clone it first clones the repository into a fresh temp dir and times `make install` there
(venv, `pip install -e '.[dev]'`, `npm ci`). pip's log (PIP_LOG) says which packages pip built
from source and whether a wheel it built before came from its cache (~/.cache/pip/wheels); for
each built package, `pip download NAME==VERSION --no-deps --only-binary :all:` checks whether the
index has a wheel for this interpreter and platform. Without --clone it uses the existing checkout's
.venv (or `chinwag` on PATH): install excluded.

    .venv/bin/python bench/demo_first_answer.py --runs 3 --restarts 2
    .venv/bin/python bench/demo_first_answer.py --clone --runs 1 --restarts 1

Results: bench/results/demo-first-answer-<stamp>[-clone].jsonl (--out PATH for elsewhere).

Every wait is bounded; every process it starts is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from time import perf_counter
from typing import Any

import httpx
from result_files import result_path

ROOT = Path(__file__).resolve().parent.parent
# docs/quickstart.md, "2. Send a message": answered by the model ("Do you deliver to Oslo?",
# the question of the runs before 2026-12-02, is now one of the demo's curated answers).
QUESTION = "Can you recommend a wine for a lamb dinner?"
# Lines of `chinwag demo`'s output whose arrival marks a step, and the step's name.
MARKS = {
    "demo bot 'vinhuset' is at version": "bot_in_db_s",
    "demo knowledge:": "knowledge_ingested_s",
    "secret key:": "key_printed_s",
    "Application startup complete": "startup_complete_s",
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def clean_env(*, keep_pythonpath: bool) -> dict[str, str]:
    """The caller's environment without CHINWAG_* settings (a new user has none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    if not keep_pythonpath:
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
    return env


# ---------------------------------------------------------------------------------- install
def clone_and_install(repo: str, work: Path, timeout: float) -> tuple[Path, dict[str, Any]]:
    checkout = work / "chinwag"
    commit = subprocess.run(
        ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", repo, str(checkout)], check=True, timeout=300)
    pip_log = work / "pip.log"
    env = {**clean_env(keep_pythonpath=False), "PIP_LOG": str(pip_log)}
    print(f">>> make install in {checkout} (commit {commit[:10]}), {load()}", file=sys.stderr)
    t0 = perf_counter()
    with open(work / "make-install.log", "wb") as out:
        proc = subprocess.Popen(
            ["make", "install"], cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(30)
            raise SystemExit(f"make install took more than {timeout:g} s") from None
    seconds = perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"make install failed ({rc}); see {work / 'make-install.log'}")
    text = pip_log.read_text(errors="replace")
    # "Created wheel for" also names the project's own editable build: not a dependency built
    # from source, and not to be looked up on the index.
    created = set(re.findall(r"Created wheel for (\S+): filename=(\S+\.whl)", text))
    cached = set(re.findall(r"Using cached (\S+\.whl)", text)) & set(
        re.findall(r"/\.cache/pip/wheels/\S*?/([^/\s]+\.whl)", text)
    )
    stamps = re.findall(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d),", text, re.M)
    span = [time.mktime(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) for s in stamps[:1] + stamps[-1:]]
    pip = str(checkout / ".venv" / "bin" / "pip")
    rows = []
    for source, wheel in [("built now", w) for n, w in created if ".editable-" not in w] + [
        ("pip's wheel cache", w) for w in cached
    ]:
        name, version = wheel.split("-")[:2]
        argv = [pip, "download", f"{name}=={version}", "--no-deps", "--only-binary", ":all:"]
        try:
            check = subprocess.run(
                [*argv, "-d", str(work / "wheel-check")],
                capture_output=True,
                timeout=180,
                env=clean_env(keep_pythonpath=False),  # not into the install's pip log
            )
            on_index: bool | None = check.returncode == 0
        except subprocess.TimeoutExpired:
            on_index = None
        rows.append({"wheel": wheel, "from": source, "wheel_on_index": on_index})
    info = {
        "commit": commit,
        "make_install_s": round(seconds, 1),
        "pip_log_span_s": span[-1] - span[0] if span else None,
        "built_from_source": rows,
        "editable_built": sorted(n for n, w in created if ".editable-" in w),
        "pip_log": str(pip_log),
    }
    return checkout, info


# ------------------------------------------------------------------------------- demo runs
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    """`chinwag demo` started by this script; each output line's arrival time is recorded."""

    def __init__(self, chinwag: str, datadir: Path, port: int, env: dict[str, str]) -> None:
        self.t0 = perf_counter()
        self.marks: dict[str, float] = {}
        self.lines: list[str] = []
        self.p = subprocess.Popen(
            [chinwag, "demo", "--host", "127.0.0.1", "--port", str(port)],
            env={**env, "CHINWAG_DATA_DIR": str(datadir)},
            cwd=datadir.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for raw in self.p.stdout:
            now = perf_counter() - self.t0
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            for needle, mark in MARKS.items():
                if needle in line and mark not in self.marks:
                    self.marks[mark] = round(now, 2)

    def key(self) -> str:
        found = re.search(r"secret key:\s+(cw_sk_\S+)", "\n".join(self.lines))
        if found is None:
            raise SystemExit("no secret key printed: has `chinwag demo` changed its output?")
        return found.group(1)

    def stop(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        self.reader.join(5)


def measure(chinwag: str, datadir: Path, env: dict[str, str], timeout: float) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Demo(chinwag, datadir, port, env)
    r: dict[str, Any] = {"port": port}
    deadline = demo.t0 + timeout
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0, read=timeout)) as client:
            while True:
                if demo.p.poll() is not None:
                    raise SystemExit("chinwag demo exited:\n  " + "\n  ".join(demo.lines[-10:]))
                if perf_counter() > deadline:
                    raise SystemExit(f"no /healthz 200 within {timeout:g} s")
                try:
                    if client.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            r["healthz_s"] = round(perf_counter() - demo.t0, 2)
            sent = perf_counter()
            r["post_s"] = round(sent - demo.t0, 2)
            events: dict[str, float] = {}
            text: list[str] = []
            status = None
            headers = {"authorization": f"Bearer {demo.key()}", "accept": "text/event-stream"}
            body = {"message": QUESTION}
            url = f"{base}/v1/bots/vinhuset/messages"
            with client.stream("POST", url, json=body, headers=headers) as resp:
                resp.raise_for_status()
                event = ""
                for line in resp.iter_lines():
                    if perf_counter() > deadline:
                        raise SystemExit(f"no stream.completed within {timeout:g} s")
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:") and event:
                        data = json.loads(line[5:])
                        if event == "message.delta" and data.get("text"):
                            text.append(data["text"])
                            events.setdefault("first_delta", perf_counter() - sent)
                        elif event != "message.delta":
                            events.setdefault(event, perf_counter() - sent)
                        if event == "message.completed":
                            r["usage"] = data.get("usage")  # prompt and completion tokens
                        if event == "stream.completed":
                            status = data.get("status")
                            break
            if "first_delta" in events:
                r["first_delta_s"] = round(r["post_s"] + events["first_delta"], 2)
            r["completed_s"] = round(perf_counter() - demo.t0, 2)
            r["from_post_s"] = {k: round(v, 2) for k, v in events.items()}
            r["status"] = status
            r["deltas"] = len(text)
            r["answer"] = "".join(text)[:300]
    finally:
        demo.stop()
        (datadir.parent / f"{datadir.name}-{time.time():.0f}.log").write_text("\n".join(demo.lines))
    r.update(demo.marks)
    return r


def fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.1f}" if isinstance(x, float) else str(x)


COLUMNS = {  # result key -> table heading
    "knowledge_ingested_s": "knowledge ingested",
    "key_printed_s": "key printed",
    "startup_complete_s": "startup complete",
    "healthz_s": "/healthz 200",
    "first_delta_s": "first delta",
    "completed_s": "stream.completed",
    "deltas": "deltas",
    "status": "status",
}


def table(runs: list[dict[str, Any]]) -> str:
    lines = ["| run | data dir | " + " | ".join(COLUMNS.values()) + " |"]
    lines.append("|---|---|" + "---:|" * (len(COLUMNS) - 1) + "---|")
    for i, r in enumerate(runs, 1):
        cells = [str(i), r["kind"], *(fmt(r.get(c)) for c in COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("(seconds from the start of `chinwag demo`)")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--clone", action="store_true", help="clone --repo and time `make install`")
    ap.add_argument("--repo", default=str(ROOT), help="what --clone clones (default: this one)")
    ap.add_argument("--runs", type=int, default=3, help="runs on a fresh data dir")
    ap.add_argument("--restarts", type=int, default=2, help="restarts on a used data dir")
    ap.add_argument("--chinwag", default=None, help="default: .venv/bin/chinwag, else on PATH")
    ap.add_argument("--timeout", type=float, default=900.0, help="per run, in seconds")
    ap.add_argument("--install-timeout", type=float, default=3600.0)
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="append the results as a JSON line; default a new "
        "bench/results/demo-first-answer-<stamp>[-clone].jsonl",
    )
    args = ap.parse_args()
    variant = "clone" if args.clone else None  # install included
    args.out = args.out or result_path("demo-first-answer", "jsonl", variant=variant)

    result: dict[str, Any] = {"stamp": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": load()}
    result["question"] = QUESTION
    work = Path(tempfile.mkdtemp(prefix="chinwag-demo-time-"))
    chinwag: str | None
    try:
        if args.clone:
            checkout, result["install"] = clone_and_install(args.repo, work, args.install_timeout)
            chinwag = str(checkout / ".venv" / "bin" / "chinwag")
            env = clean_env(keep_pythonpath=False)
        else:
            local = ROOT / ".venv" / "bin" / "chinwag"
            chinwag = args.chinwag or (str(local) if local.exists() else shutil.which("chinwag"))
            env = clean_env(keep_pythonpath=True)
        if chinwag is None:
            raise SystemExit("no chinwag: run `make install` or put one on PATH")
        result["chinwag"] = chinwag
        result["pythonpath"] = env.get("PYTHONPATH")
        runs: list[dict[str, Any]] = []
        for i in range(args.runs):
            datadir = work / f"data-{i + 1}"
            kinds = ["fresh"] + ["restart"] * (1 if i < args.restarts else 0)
            for kind in kinds:
                print(f">>> run {len(runs) + 1}: {kind} data dir, {load()}", file=sys.stderr)
                r = {"kind": kind, **measure(chinwag, datadir, env, args.timeout)}
                print(f"    {json.dumps(r)[:400]}", file=sys.stderr)
                runs.append(r)
        result["runs"] = runs
        result["load_after"] = load()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if "install" in result:
        print(json.dumps(result["install"], indent=1))
    print(table(result["runs"]))
    print(f"{result['load_before']} before, {result['load_after']} after; 2 cores")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            f.write(json.dumps(result) + "\n")
    return 0 if all(r.get("status") == "completed" for r in result["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
