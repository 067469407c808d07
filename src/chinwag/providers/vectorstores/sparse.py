"""Sparse BM25-style term vectors, for stores whose keyword search ranks sparse vectors (Qdrant).

Terms are lower-cased words hashed to 31-bit ids; a document's weights carry BM25's term
frequency saturation and length normalisation, and the store multiplies in the IDF
(Qdrant's `Modifier.IDF`), which together make BM25.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

WORD = re.compile(r"\w+", re.UNICODE)
K1 = 1.2
B = 0.75
AVERAGE_WORDS = 180.0  # a chunk of ~250 tokens; the exact corpus average barely moves rankings


def _terms(text: str) -> list[int]:
    return [zlib.crc32(w.encode()) & 0x7FFFFFFF for w in WORD.findall(text.lower())]


def document_vector(text: str) -> tuple[list[int], list[float]]:
    counts = Counter(_terms(text))
    length = sum(counts.values()) or 1
    norm = K1 * (1 - B + B * length / AVERAGE_WORDS)
    indices = sorted(counts)
    return indices, [counts[i] * (K1 + 1) / (counts[i] + norm) for i in indices]


def query_vector(text: str) -> tuple[list[int], list[float]]:
    indices = sorted(set(_terms(text)))
    return indices, [1.0] * len(indices)
