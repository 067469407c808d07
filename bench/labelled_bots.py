"""The six bots with labelled sets (tests/data/routing, scope, facts) and their documents: what
the routing, context-recall and answer-policy benchmarks measure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from chinwag.config.bot import BotConfig
from chinwag.knowledge.ingest import ingest
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.protocols import ChatMessage, GenerationOptions, Usage
from chinwag.providers.registry import ModelRegistry

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src/chinwag/bots/demo"
BOTS = {
    "vinhuset": DEMO / "vinhuset.yaml",
    "bokhylla": ROOT / "examples/bokhylla.yaml",
    "sykkelverksted": ROOT / "examples/sykkelverksted.yaml",
    "tannklinikk": ROOT / "examples/tannklinikk.yaml",
    "fjordferja": ROOT / "examples/fjordferja.yaml",
    "hyttegrenda": ROOT / "examples/hyttegrenda.yaml",
}
DOCUMENTS = {
    "vinhuset": DEMO / "knowledge",
    "hyttegrenda": ROOT / "examples/hyttegrenda/knowledge",
}


def in_scope(bot_id: str) -> list[dict[str, Any]]:
    """The routing set's {message, flows, split}: a JSONL set's own split; a YAML set's
    messages alternate, the first dev (as tests/data/facts/README.md splits them)."""
    jsonl = ROOT / f"tests/data/routing/{bot_id}.jsonl"
    if jsonl.exists():
        return [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    messages = yaml.safe_load((ROOT / f"tests/data/routing/{bot_id}.yaml").read_text())
    return [
        {"message": m["text"], "flows": m["flows"], "split": "dev" if i % 2 == 0 else "test"}
        for i, m in enumerate(messages["messages"])
    ]


async def knowledge_for(
    bot: BotConfig, bot_id: str, models: ModelRegistry, work: Path
) -> KnowledgeService | None:
    """The bot's documents ingested into a fresh embedded LanceDB index under `work`; None for a
    bot without a knowledge section or documents."""
    if bot.knowledge is None or bot_id not in DOCUMENTS:
        return None
    from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

    embedder = models.embedder(bot.embedding)
    store = LanceDBStore(work / bot_id)
    await store.create(bot.knowledge.index, await embedder.dimension())
    await ingest(store, embedder, bot.knowledge.index, [DOCUMENTS[bot_id]])
    return KnowledgeService(store, embedder, bot.knowledge)


class Stub:
    """A chat model that answers "ok" at once: the engine's cost without an LLM's."""

    name = "stub"

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        yield "ok"

    async def aclose(self) -> None:
        return None
