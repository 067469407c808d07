"""embedding_bench.py - CPU per message embedding, per runtime, alone and batched.

    .venv/bin/python bench/embedding_bench.py [--runtimes onnx onnx-int8 torch] [--rounds 20]

The demo's labelled routing messages (74) are embedded through `LocalEmbedder` (one model
thread, as in the server): one call per message, then concurrent messages that the batcher puts
into one model call (batches of 8 and 32). CPU time (this process, all threads) per message,
so that other work on the machine changes the figures less than wall time would; a fresh
embedder per round so that no embedding is reused from its cache. Then the latency of a message
at low load: each of the messages alone after 0.3 s of quiet, wall time from the call to its
vector (what the batcher's idle wait, CHINWAG_EMBEDDING_BATCH_WAIT_MS, adds shows here).

`onnx` is the model as a server runs it by default (CHINWAG_EMBEDDING_WEIGHTS=fp32: its int8
tables kept int8, its weights unpacked to fp32 by ONNX Runtime); `onnx-int8` as it runs with
CHINWAG_EMBEDDING_WEIGHTS=int8, its weight matrices kept int8 and computed by ONNX Runtime's
int8 kernel (onnx_int8.py; the default on 2026-12-07 from 08:45 to 12:10).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import yaml
from result_files import copy_stdout_to, result_path

from chinwag.config.bot import EmbeddingConfig
from chinwag.providers.protocols import Embedder
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    m["text"]
    for m in yaml.safe_load((ROOT / "tests/data/routing/vinhuset.yaml").read_text())["messages"]
]
VARIANTS = {  # --runtimes name -> the server's settings that give it
    "onnx": Settings(embedding_runtime="onnx", embedding_weights="fp32"),
    "onnx-int8": Settings(embedding_runtime="onnx", embedding_weights="int8"),
    "torch": Settings(embedding_runtime="torch"),
}


def embedder_for(variant: str) -> Embedder:
    """A new embedder (nothing reused from another's cache), built as a server builds it: the
    model rewritten once into the data directory's models/ and loaded from there."""
    return ModelRegistry(VARIANTS[variant]).embedder(EmbeddingConfig())


async def cpu_ms_per_message(runtime: str, batch: int, rounds: int) -> float:
    spent = 0.0
    for _ in range(rounds):
        embedder = embedder_for(runtime)
        await embedder.embed(["warm-up"])
        started = time.process_time()
        for start in range(0, len(MESSAGES), batch):
            group = MESSAGES[start : start + batch]
            await asyncio.gather(*(embedder.embed([m]) for m in group))
        spent += time.process_time() - started
        await embedder.aclose()
    return spent * 1000 / (rounds * len(MESSAGES))


async def quiet_wall_ms(runtime: str) -> float:
    """Median wall time of one message embedded after 0.3 s of quiet (the model idle)."""
    embedder = embedder_for(runtime)
    await embedder.embed(["warm-up"])
    walls = []
    for message in MESSAGES:
        await asyncio.sleep(0.3)
        started = time.perf_counter()
        await embedder.embed([message])
        walls.append((time.perf_counter() - started) * 1000)
    await embedder.aclose()
    return statistics.median(walls)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtimes", nargs="+", choices=list(VARIANTS), default=["onnx", "torch"])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--out",
        type=Path,
        default=result_path("embedding", "md"),
        help="also write what is printed here; default bench/results/embedding-<stamp>.md",
    )
    args = ap.parse_args()
    copy_stdout_to(args.out)
    print("| runtime | alone (1 per call) | 8 concurrent | 32 concurrent |")
    print("|---|---|---|---|")
    for runtime in args.runtimes:
        cells = [await cpu_ms_per_message(runtime, b, args.rounds) for b in (1, 8, 32)]
        print(f"| {runtime} | " + " | ".join(f"{c:.2f} ms" for c in cells) + " |", flush=True)
    print("\n| runtime | a message after 0.3 s of quiet, wall p50 |\n|---|---|")
    for runtime in args.runtimes:
        print(f"| {runtime} | {await quiet_wall_ms(runtime):.2f} ms |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
