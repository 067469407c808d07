"""Up-front index checks for `chinwag validate`, /readyz and bot activation."""

from __future__ import annotations

from chinwag.config.strict import SearchMode
from chinwag.knowledge.search import unsupported_mode
from chinwag.providers.protocols import Embedder
from chinwag.providers.vectorstores.base import (
    IndexInfo,
    VectorStore,
    dimension_mismatch,
    index_not_found,
)


async def check_index(
    store: VectorStore,
    index: str,
    embedder: Embedder,
    *,
    bot: str = "BOT",
    mode: SearchMode = "vector",
) -> IndexInfo:
    """The index's info when a bot can use it; otherwise the error that says how to fix it.

    Raises KnowledgeIndexNotFound, KnowledgeDimensionMismatch or KnowledgeModeUnsupported.
    """
    info = await store.info(index)
    if not info.exists:
        raise index_not_found(store.name, index, bot)
    want = await embedder.dimension()
    if info.dimension is not None and info.dimension != want:
        raise dimension_mismatch(store.name, index, info.dimension, want, bot)
    if mode != "vector" and not store.keyword_search:
        raise unsupported_mode(store.name, index, mode)
    return info


def index_is_empty(info: IndexInfo) -> bool:
    """True for an index with no chunks: worth a warning (`chinwag ingest BOT PATH…`)."""
    return info.exists and info.count == 0
