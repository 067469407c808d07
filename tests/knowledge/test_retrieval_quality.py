"""Retrieval quality on the labelled Vinhuset questions over the demo corpus (recall@5)."""

from __future__ import annotations

from pathlib import Path

import yaml

from chinwag.bots.config import KnowledgeConfig
from chinwag.knowledge.chunking import Chunker
from chinwag.knowledge.ingest import ingest
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

from .conftest import DATA, DEMO_CORPUS

FLOORS = {"vector": 0.6, "keyword": 0.5, "hybrid": 0.7}


async def test_recall_at_5_per_mode(
    lance: LanceDBStore, embedder: LocalEmbedder, chunker: Chunker
) -> None:
    labelled = yaml.safe_load((DATA / "retrieval/vinhuset.yaml").read_text())
    questions = labelled["questions"]
    await lance.create("vinhuset", await embedder.dimension())
    summary = await ingest(lance, embedder, "vinhuset", [DEMO_CORPUS], chunker=chunker)
    assert summary.failed == [] and len(summary.added) == len(list(DEMO_CORPUS.iterdir()))
    service = KnowledgeService(lance, embedder, KnowledgeConfig(index="vinhuset"))
    recall = {}
    for mode in ("vector", "keyword", "hybrid"):
        found = 0
        for q in questions:
            results = await service.search(q["question"], mode=mode, top_k=5)  # type: ignore[arg-type]
            sources = {Path(r.document).name for r in results}
            found += bool(sources & set(q["relevant"]))
        recall[mode] = found / len(questions)
    print(f"\nrecall@5 over {len(questions)} questions: {recall}")
    for mode, floor in FLOORS.items():
        assert recall[mode] >= floor, (mode, recall)
