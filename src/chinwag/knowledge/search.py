"""Search a bot's knowledge: vector, keyword, or both fused by their scores (hybrid).

Hybrid fusion is score-aware: each list's scores are divided by its best score, and a chunk's
fused score is the mean of its two (0 where a list did not find it). Unlike reciprocal rank
fusion, a strong hit that only one list found is not buried under chunks both lists found
weakly: on the labelled Vinhuset questions hybrid is at least as good as the better of vector and
keyword at every depth (bench/README.md).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chinwag.config.bot import KnowledgeConfig
from chinwag.config.strict import SearchMode
from chinwag.errors import KnowledgeModeUnsupported
from chinwag.norwegian import with_glosses
from chinwag.providers.protocols import Embedder
from chinwag.providers.vectorstores.base import Filters, Hit, VectorStore, check_filters
from chinwag.words import shared_words

SNIPPET_CHARS = 300
_SENTENCE_END = re.compile(r"(?<=[.!?:;])\s+")
# What a reader should not see in a snippet: Markdown's line marks (headings, bullets, quotes),
# bold and code marks, and a link's target (its text stays).
_LINE_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|>\s*)")
_INLINE_MARKS = re.compile(r"\*\*|`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)\s]*\)")


@dataclass(frozen=True, slots=True)
class SearchResult:
    document: str  # the document's source
    title: str
    score: float
    snippet: str
    text: str  # the whole chunk, for a flow's prompt
    url: str | None = None  # where a reader can open the document
    metadata: dict[str, Any] = field(default_factory=dict)
    # The query's cosine similarity to the chunk when vector search found it (None: it did
    # not, or the mode was `keyword`): comparable across bots, unlike a fused score.
    similarity: float | None = None


class Reranker(Protocol):
    """Reorders (and may cut) results, e.g. with a cross-encoder; called after fusion."""

    async def __call__(self, query: str, results: Sequence[SearchResult]) -> list[SearchResult]: ...


class KnowledgeService:
    """Searches one index with one embedder, as a bot's knowledge settings say."""

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        config: KnowledgeConfig,
        *,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.reranker = reranker

    async def search(
        self,
        query: str,
        *,
        mode: SearchMode | None = None,
        top_k: int | None = None,
        filters: Filters | None = None,
    ) -> list[SearchResult]:
        mode = mode or self.config.mode
        top_k = top_k or self.config.top_k
        filters = filters or {}
        check_filters(filters)
        index = self.config.index
        if mode != "vector" and not self.store.keyword_search:
            raise unsupported_mode(self.store.name, index, mode)
        hits: list[Hit]
        similarities: dict[str, float] = {}
        if mode == "vector":
            hits = await self._vector(query, top_k, filters)
            similarities = {hit.chunk.id: hit.score for hit in hits}
        elif mode == "keyword":
            hits = await self.store.search_keyword(index, query, top_k, filters)
        else:
            depth = max(top_k * 4, 20)
            vector, keyword = await asyncio.gather(
                self._vector(query, depth, filters),
                self.store.search_keyword(index, query, depth, filters),
            )
            similarities = {hit.chunk.id: hit.score for hit in vector}
            hits = fuse([vector, keyword])[:top_k]
        results = [_result(hit, query, similarities.get(hit.chunk.id)) for hit in hits]
        if self.reranker is not None:
            results = (await self.reranker(query, results))[:top_k]
        return results

    async def _vector(self, query: str, top_k: int, filters: Filters) -> list[Hit]:
        # A Norwegian question with English glosses of its common words, as the router embeds
        # it: the same text, so a chat message is embedded once for both.
        vector = (await self.embedder.embed([with_glosses(query)]))[0]
        return await self.store.search_vector(self.config.index, vector, top_k, filters)


def fuse(rankings: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Score-aware fusion: the mean over rankings of score / the ranking's best score."""
    scores: dict[str, float] = {}
    chunks: dict[str, Hit] = {}
    for ranking in rankings:
        best = max((hit.score for hit in ranking), default=0.0)
        for hit in ranking:
            share = hit.score / best if best > 0 else 0.0
            scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + share / len(rankings)
            chunks.setdefault(hit.chunk.id, hit)
    ordered = sorted(scores, key=lambda chunk_id: scores[chunk_id], reverse=True)
    return [Hit(chunks[chunk_id].chunk, scores[chunk_id]) for chunk_id in ordered]


def unsupported_mode(store: str, index: str, mode: str) -> KnowledgeModeUnsupported:
    return KnowledgeModeUnsupported(
        f"index '{index}' in {store} cannot do {mode} search (dense vectors only); set "
        "knowledge.mode to `vector` in the bot, or use the lancedb or qdrant store"
    )


def _result(hit: Hit, query: str, similarity: float | None) -> SearchResult:
    chunk = hit.chunk
    snippet = plain_snippet(chunk.text, chunk.title, query=query)
    metadata: dict[str, Any] = {"chunk": chunk.position}
    if chunk.page is not None:
        metadata["page"] = chunk.page
    if chunk.row is not None:
        metadata["row"] = chunk.row
    if chunk.tags:
        metadata["tags"] = list(chunk.tags)
    return SearchResult(
        chunk.source,
        chunk.title,
        hit.score,
        snippet,
        chunk.text,
        url=chunk.url,
        metadata=metadata,
        similarity=similarity,
    )


def plain_snippet(text: str, title: str, *, query: str = "") -> str:
    """The chunk as one line of plain text for a reader (the widget's sources, the console, a
    prompt's `s.snippet`): without Markdown marks, without a first line that only repeats the
    title, at most SNIPPET_CHARS. A longer chunk gives the passage about the query: the
    sentences from the one that shares the most of the query's words (English glosses of a
    Norwegian query included), cut at a word, with "…" where text is left out; the chunk's
    start when no sentence shares a word."""
    lines = [
        _LINK.sub(r"\1", _INLINE_MARKS.sub("", _LINE_MARKS.sub("", line)))
        for line in text.splitlines()
    ]
    kept = [line.strip() for line in lines if line.strip()]
    if len(kept) > 1 and kept[0].casefold() == title.strip().casefold():
        kept = kept[1:]
    plain = " ".join(" ".join(kept).split())
    if len(plain) <= SNIPPET_CHARS:
        return plain
    sentences = _SENTENCE_END.split(plain)
    first = _best_sentence(sentences, with_glosses(query)) if query else 0
    passage = " ".join(sentences[first:])
    # Room left after the passage's end: the sentences before it, so that a short match at the
    # end of a chunk still comes with its context.
    while first > 0 and len(sentences[first - 1]) + 1 + len(passage) <= SNIPPET_CHARS:
        first -= 1
        passage = f"{sentences[first]} {passage}"
    lead = "…" if first > 0 else ""
    if len(lead) + len(passage) > SNIPPET_CHARS:
        passage = passage[: SNIPPET_CHARS - 1 - len(lead)].rsplit(" ", 1)[0] + "…"
    return lead + passage


def _best_sentence(sentences: Sequence[str], query: str) -> int:
    """The index of the first sentence sharing the most of the query's content words; 0 when
    none shares one."""
    shared = [shared_words(sentence, query) for sentence in sentences]
    return shared.index(max(shared)) if max(shared, default=0) > 0 else 0
