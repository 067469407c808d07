"""Retrieval quality on the labelled Vinhuset questions over the demo corpus (recall@1/3/5)."""

from __future__ import annotations

from pathlib import Path

import yaml

from chinwag.config.bot import KnowledgeConfig
from chinwag.knowledge.chunking import Chunker
from chinwag.knowledge.ingest import ingest
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

from .conftest import DATA, DEMO_CORPUS

FLOORS = {"vector": 0.9, "keyword": 0.9, "hybrid": 0.95}


async def test_recall_at_5_per_mode(
    lance: LanceDBStore, embedder: LocalEmbedder, chunker: Chunker
) -> None:
    labelled = yaml.safe_load((DATA / "retrieval/vinhuset.yaml").read_text())
    questions = labelled["questions"]
    await lance.create("vinhuset", await embedder.dimension())
    summary = await ingest(lance, embedder, "vinhuset", [DEMO_CORPUS], chunker=chunker)
    assert summary.failed == [] and len(summary.added) == len(list(DEMO_CORPUS.iterdir()))
    service = KnowledgeService(lance, embedder, KnowledgeConfig(index="vinhuset"))
    at: dict[int, dict[str, float]] = {1: {}, 3: {}, 5: {}}
    for mode in ("vector", "keyword", "hybrid"):
        found = dict.fromkeys(at, 0)
        for q in questions:
            results = await service.search(q["question"], mode=mode, top_k=5)  # type: ignore[arg-type]
            for depth in at:
                sources = {Path(r.document).name for r in results[:depth]}
                found[depth] += bool(sources & set(q["relevant"]))
        for depth in at:
            at[depth][mode] = found[depth] / len(questions)
    recall = at[5]
    print(f"\nrecall over {len(questions)} questions: {at}")
    for mode, floor in FLOORS.items():
        assert recall[mode] >= floor, (mode, recall)
    for depth, figures in at.items():  # hybrid fusion never loses to the better single list
        assert figures["hybrid"] >= max(figures["vector"], figures["keyword"]), (depth, figures)
