"""Knowledge benchmark: ingestion vs the raw embedding model, LanceDB search latency, recall.

    PYTHONPATH=src python bench/knowledge_bench.py [--copies 6] [--sizes 10000,100000]
        [--runtime onnx|torch] [--only ingest|recall|latency]

1. Ingestion: the demo corpus copied N times (each copy a distinct document) is ingested into a
   fresh LanceDB index; the same chunk texts are then embedded by the raw model (ONNX Runtime or
   sentence-transformers, `--runtime`) in one `encode` call. Ratio = ingestion throughput / raw
   throughput (chunks per second).
2. Search latency on LanceDB at each size with synthetic chunks (random unit vectors, text drawn
   from the demo corpus vocabulary): p50/p99 per mode through KnowledgeService, with the query
   vectors embedded beforehand so the figures are the store's; a query's embedding time apart.
3. recall@1/3/5 per mode on every labelled set in tests/data/retrieval/*.yaml, each over its own
   `corpus`: vinhuset (the demo corpus; printed first, as before) and hyttegrenda (a cabin-rental
   village, never used for tuning), then a table per set, mode and question group (the
   `# ---- keyword / mixed / paraphrase` comments in the set).
Not run in CI; about 5-10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray
from result_files import result_path

from chinwag.config.bot import EmbeddingConfig, KnowledgeConfig
from chinwag.evaluation.run import DEPTHS, MODES, EvalReport, Labelled, Searched, evaluate_search
from chinwag.knowledge.chunking import Chunker
from chinwag.knowledge.ingest import ingest
from chinwag.knowledge.loaders import find_files, load
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.registry import ModelRegistry
from chinwag.providers.vectorstores.base import Chunk, chunk_id
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore
from chinwag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "src/chinwag/bots/demo/knowledge"
LABELLED = ROOT / "tests/data/retrieval"
QUESTIONS = LABELLED / "vinhuset.yaml"


class PrecomputedEmbedder:
    """Answers queries from vectors embedded beforehand, so latency is the store's alone."""

    name = "precomputed"

    def __init__(self, vectors: dict[str, NDArray[np.float32]]) -> None:
        self._vectors = vectors

    async def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.stack([self._vectors[t] for t in texts])

    async def dimension(self) -> int:
        return int(next(iter(self._vectors.values())).shape[0])

    async def aclose(self) -> None:
        pass


def _questions() -> list[dict[str, Any]]:
    return list(yaml.safe_load(QUESTIONS.read_text())["questions"])


def _labelled(path: Path) -> tuple[list[dict[str, Any]], Path, list[str]]:
    """A labelled set's questions, its corpus and each question's group."""
    source = path.read_text()
    labelled = yaml.safe_load(source)
    questions, groups = list(labelled["questions"]), _groups(source)
    assert len(groups) == len(questions), path
    return questions, ROOT / labelled["corpus"], groups


def _groups(source: str) -> list[str]:
    """Each question's group, from the `# ---- name` comment lines above it in the set."""
    group, groups = "all", []
    for line in source.splitlines():
        if heading := re.fullmatch(r"\s*#\s*-{4,}\s*(\w+)\s*", line):
            group = heading.group(1)
        elif re.match(r"\s*-\s*question:", line):
            groups.append(group)
    return groups


async def bench_ingest(embedder: LocalEmbedder, chunker: Chunker, copies: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="chinwag-bench-"))
    try:
        corpus = work / "corpus"
        for i in range(copies):
            shutil.copytree(CORPUS, corpus / f"copy-{i}")
        files, _ = find_files([corpus])
        texts = [c.text for f in files for c in chunker.split(load(f))]
        model = embedder._load()  # the very model ingestion uses, called directly
        model.encode(texts[:64])  # warm-up
        store = LanceDBStore(work / "lancedb")
        await store.create("bench", await embedder.dimension())

        started = time.perf_counter()
        summary = await ingest(store, embedder, "bench", [corpus], chunker=chunker)
        ingest_s = time.perf_counter() - started

        started = time.perf_counter()
        model.encode(texts)
        raw_s = time.perf_counter() - started
        await store.aclose()
        return {
            "documents": len(summary.added),
            "chunks": summary.chunks,
            "ingest_chunks_per_s": summary.chunks / ingest_s,
            "raw_chunks_per_s": len(texts) / raw_s,
            "ratio": (summary.chunks / ingest_s) / (len(texts) / raw_s),
            "ingest_s": ingest_s,
            "raw_s": raw_s,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _vocabulary() -> list[str]:
    words = re.findall(r"\w+", " ".join(p.read_text() for p in CORPUS.iterdir()).lower())
    return sorted(set(words))


async def _fill(store: LanceDBStore, index: str, size: int, dimension: int) -> None:
    rng = np.random.default_rng(7)
    vocabulary = _vocabulary()
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)  # Zipf-like word frequencies
    weights /= weights.sum()
    batch = 10_000
    for start in range(0, size, batch):
        n = min(batch, size - start)
        vectors = rng.standard_normal((n, dimension)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        words = rng.choice(len(vocabulary), size=(n, 120), p=weights)
        chunks = [
            Chunk(
                chunk_id(f"doc-{(start + i) // 10}", "c", (start + i) % 10),
                f"doc-{(start + i) // 10}",
                "c",
                (start + i) % 10,
                " ".join(vocabulary[w] for w in words[i]),
                f"Document {(start + i) // 10}",
                tags=("synthetic",),
            )
            for i in range(n)
        ]
        await store.upsert(index, chunks, vectors)
    await store.optimize(index)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


async def bench_latency(embedder: LocalEmbedder, sizes: list[int], repeats: int) -> dict[str, Any]:
    questions = [q["question"] for q in _questions()]
    embed_ms = []
    vectors: dict[str, NDArray[np.float32]] = {}
    for q in questions:
        started = time.perf_counter()
        vectors[q] = (await embedder.embed([q]))[0]
        embed_ms.append((time.perf_counter() - started) * 1000)
    result: dict[str, Any] = {
        "query_embedding_ms": {"p50": _percentile(embed_ms, 50), "p99": _percentile(embed_ms, 99)}
    }
    for size in sizes:
        work = Path(tempfile.mkdtemp(prefix="chinwag-bench-"))
        try:
            store = LanceDBStore(work / "lancedb")
            await store.create("bench", 384)
            started = time.perf_counter()
            await _fill(store, "bench", size, 384)
            fill_s = time.perf_counter() - started
            service = KnowledgeService(
                store, PrecomputedEmbedder(vectors), KnowledgeConfig(index="bench", top_k=5)
            )
            per_mode: dict[str, Any] = {"fill_s": fill_s}
            for mode in MODES:
                for q in questions[:10]:  # warm caches
                    await service.search(q, mode=mode)
                timings = []
                for _ in range(repeats):
                    for q in questions:
                        started = time.perf_counter()
                        await service.search(q, mode=mode)
                        timings.append((time.perf_counter() - started) * 1000)
                per_mode[mode] = {
                    "p50_ms": _percentile(timings, 50),
                    "p99_ms": _percentile(timings, 99),
                    "queries": len(timings),
                }
            result[str(size)] = per_mode
            await store.aclose()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return result


async def _recall_on(embedder: LocalEmbedder, chunker: Chunker, path: Path) -> dict[str, Any]:
    """recall@1/3/5 per mode on one labelled set, overall and per question group."""
    questions, corpus, groups = _labelled(path)
    work = Path(tempfile.mkdtemp(prefix="chinwag-bench-"))
    try:
        store = LanceDBStore(work / "lancedb")
        await store.create(path.stem, await embedder.dimension())
        await ingest(store, embedder, path.stem, [corpus], chunker=chunker)
        service = KnowledgeService(store, embedder, KnowledgeConfig(index=path.stem))
        items = [Labelled(q["question"], documents=q["relevant"]) for q in questions]
        searched = await evaluate_search(service, items, MODES)
        counts = {g: groups.count(g) for g in dict.fromkeys(groups)}
        overall = _recall(path.stem, searched)
        per_group = {
            g: _recall(path.stem, [s for s, sg in zip(searched, groups, strict=True) if sg == g])
            for g in counts
        }
        await store.aclose()
        return {
            "questions": len(questions),
            "recall": overall,
            "groups": per_group,
            "counts": counts,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _recall(name: str, searched: list[Searched]) -> dict[str, dict[str, float]]:
    """recall@1/3/5 per mode, as `chinwag eval` counts it."""
    report = EvalReport(name, searched=searched, modes=list(MODES))
    return {mode: {f"@{d}": report.recall(mode, d) or 0.0 for d in DEPTHS} for mode in MODES}


async def bench_recall(embedder: LocalEmbedder, chunker: Chunker) -> dict[str, dict[str, Any]]:
    """recall@1/3/5 per mode on every labelled set: a question counts when a relevant document
    is in the first k. Vinhuset first."""
    paths = sorted(LABELLED.glob("*.yaml"), key=lambda p: (p != QUESTIONS, p.name))
    return {path.stem: await _recall_on(embedder, chunker, path) for path in paths}


def _recall_table(sets: dict[str, dict[str, Any]]) -> str:
    lines = ["| set | group | questions | mode | @1 | @3 | @5 |", "|---|---|---|---|---|---|---|"]
    for name, measured in sets.items():
        rows = [("all", measured["questions"], measured["recall"])]
        rows += [(g, measured["counts"][g], by_mode) for g, by_mode in measured["groups"].items()]
        for group, n, by_mode in rows:
            for mode, at in by_mode.items():
                figures = " | ".join(f"{at[k]:.3f}" for k in ("@1", "@3", "@5"))
                lines.append(f"| {name} | {group} | {n} | {mode} | {figures} |")
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=6, help="Copies of the demo corpus.")
    parser.add_argument("--sizes", default="10000,100000", help="Chunk counts for latency.")
    parser.add_argument("--repeats", type=int, default=2, help="Passes over the questions.")
    parser.add_argument("--threads", type=int, default=1, help="The model's CPU threads.")
    parser.add_argument("--runtime", choices=["onnx", "torch"], default="onnx")
    parser.add_argument("--only", choices=["ingest", "recall", "latency"], help="One part.")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("knowledge", "json"),
        help="the results as JSON; default bench/results/knowledge-<stamp>.json",
    )
    args = parser.parse_args()
    random.seed(7)
    # Built as a server builds it: the model rewritten into the data directory (onnx_int8.py).
    settings = Settings(embedding_threads=args.threads, embedding_runtime=args.runtime)
    embedder = ModelRegistry(settings).embedder(EmbeddingConfig())
    assert isinstance(embedder, LocalEmbedder)  # the embedded model: ingestion calls it directly
    chunker = Chunker()
    results: dict[str, Any] = {"runtime": args.runtime, "threads": args.threads}
    if args.only in (None, "ingest"):
        results["ingest"] = await bench_ingest(embedder, chunker, args.copies)
        print(json.dumps(results["ingest"], indent=2), flush=True)
    if args.only in (None, "recall"):
        sets = await bench_recall(embedder, chunker)
        results["recall"] = sets["vinhuset"]["recall"]  # as before this measured other sets
        results["recall_sets"] = sets
        print(json.dumps(results["recall"], indent=2), flush=True)
        for name, measured in sets.items():
            if name != "vinhuset":
                print(f"recall on {name} ({measured['questions']} questions):")
                print(json.dumps(measured["recall"], indent=2), flush=True)
        print(_recall_table(sets), flush=True)
    if args.only in (None, "latency"):
        sizes = [int(s) for s in args.sizes.split(",") if s]
        results["latency"] = await bench_latency(embedder, sizes, args.repeats)
        print(json.dumps(results["latency"], indent=2), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    await embedder.aclose()


if __name__ == "__main__":
    asyncio.run(main())
