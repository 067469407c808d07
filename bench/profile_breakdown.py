#!/usr/bin/env python3
"""profile_breakdown.py - where chinwag's CPU goes, by chinwag function and by asyncio task.

Complements bench/harness/profile_summary.py (self time by package / function) for a py-spy
`--format raw` profile of a chinwag server:

  1. by task root: the outermost frame of each sample below the event loop (`Runner.run`),
     i.e. which asyncio task or loop callback was running (EventLog._run, Generations._generate,
     uvicorn's RequestResponseCycle.run_asgi, HttpToolsProtocol.data_received, ...);
  2. inclusive share of every function defined in src/chinwag (on the stack at all);
  3. self time inside the stack of a few chinwag functions, grouped by package, so that e.g.
     "the LLM client" can be split into openai / httpx2 / httpcore2 / h11 / anyio.

    python bench/profile_breakdown.py RAW_PYSPY.txt [--top 25] [--split FUNC ...]
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

FRAME_RE = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
LOOP_ROOTS = ("Runner.run", "run_until_complete", "run_forever")
DEFAULT_SPLIT = [
    "OpenAIChatModel.stream",
    "EventLog._commit",
    "send_message",
    "SSEResponse.__call__",
    "StreamWriter.append",
]


def package_of(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        return "stdlib:" + path.rsplit("/", 1)[-1].removesuffix(".py")
    if "/src/chinwag/" in path:
        return "chinwag"
    return path.rsplit("/", 1)[-1]


def short(func: str, path: str) -> str:
    if "/src/chinwag/" in path:
        return f"{func} (chinwag/{path.split('/src/chinwag/', 1)[1]})"
    return f"{func} ({package_of(path)})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument(
        "--split",
        nargs="*",
        default=DEFAULT_SPLIT,
        help="chinwag functions whose subtree is split by package (self time)",
    )
    args = ap.parse_args(argv)
    total = 0
    roots: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    split: dict[str, collections.Counter[str]] = {f: collections.Counter() for f in args.split}
    with open(args.file, errors="replace") as fh:
        lines = fh.readlines()
    for line in lines:
        stack, _, n_txt = line.rstrip("\n").rpartition(" ")
        try:
            n = int(n_txt)
        except ValueError:
            continue
        frames = []
        for fr in stack.split(";"):
            m = FRAME_RE.match(fr)
            if m:
                frames.append((m.group("func"), m.group("file")))
        if not frames:
            continue
        total += n
        # task root: first frame after the outermost loop-runner frame
        start = 0
        for i, (func, _) in enumerate(frames):
            if func in LOOP_ROOTS:
                start = i + 1
        root = frames[start] if start < len(frames) else frames[-1]
        roots[short(*root)] += n
        seen = set()
        for func, path in frames:
            if "/src/chinwag/" in path:
                key = short(func, path)
                if key not in seen:
                    seen.add(key)
                    incl[key] += n
        names = [f for f, _ in frames]
        self_pkg = package_of(frames[-1][1])
        if self_pkg.startswith(
            "stdlib:"
        ):  # charge stdlib self time to the innermost package above it
            for _, path in reversed(frames):
                p = package_of(path)
                if not p.startswith("stdlib:"):
                    self_pkg = f"{p} (via stdlib)"
                    break
        for f in args.split:
            if f in names:
                split[f][self_pkg] += n
    if not total:
        print("no samples")
        return 1
    pc = lambda k: f"{100.0 * k / total:5.1f}%"  # noqa: E731
    print(f"samples: {total}\n\nby task root (what the event loop was running):")
    for k, v in roots.most_common(args.top):
        print(f"  {pc(v)}  {k}")
    print("\ninclusive share of chinwag functions:")
    for k, v in incl.most_common(args.top):
        print(f"  {pc(v)}  {k}")
    for f, cnt in split.items():
        s = sum(cnt.values())
        if not s:
            continue
        print(f"\ninside {f} ({pc(s)} of all samples), self time by package:")
        for k, v in cnt.most_common(10):
            print(f"  {pc(v)}  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
