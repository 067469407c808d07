"""A document's URL (front matter, or an HTML canonical link) is read at ingestion, kept apart
from the indexed text, and survives in an index made before documents had URLs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from chinwag.knowledge.loaders import SourceFile, load
from chinwag.providers.vectorstores.base import Chunk
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore


def _load(tmp_path: Path, name: str, text: str) -> tuple[str | None, str]:
    path = tmp_path / name
    path.write_text(text)
    document = load(SourceFile(path, name))
    return document.url, document.sections[0].text


def test_front_matter_and_canonical_links_give_the_url(tmp_path: Path) -> None:
    url, text = _load(
        tmp_path, "hours.md", "---\nurl: https://shop.example/hours\n---\n# Hours\nOpen 10-16."
    )
    assert url == "https://shop.example/hours" and text == "# Hours\nOpen 10-16."
    url, text = _load(tmp_path, "a.txt", "---\nauthor: me\n---\nNo URL here.")
    assert url is None and text == "No URL here."
    url, text = _load(tmp_path, "b.txt", "---\nurl: javascript:alert(1)\n---\nText.")
    assert url is None  # only http(s) and mailto
    url, _ = _load(tmp_path, "plain.md", "# Plain\n---\nurl: https://not.front/matter\n")
    assert url is None
    page = (
        "<html><head><title>Gift cards</title>"
        "<link rel='canonical' href='https://shop.example/gift-cards'></head>"
        "<body><article><p>Gift cards from 200 kroner, valid for three years.</p>"
        "</article></body></html>"
    )
    url, text = _load(tmp_path, "gift.html", page)
    assert url == "https://shop.example/gift-cards" and "200 kroner" in text


async def test_an_index_without_the_url_column_gains_it(tmp_path: Path) -> None:
    import lancedb

    old = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("checksum", pa.string()),
            ("position", pa.int32()),
            ("text", pa.string()),
            ("title", pa.string()),
            ("page", pa.int32()),
            ("row", pa.int32()),
            ("tags", pa.list_(pa.string())),
            ("vector", pa.list_(pa.float32(), 4)),
        ]
    )
    db = await lancedb.connect_async(tmp_path / "lancedb")
    await db.create_table("old", schema=old)
    store = LanceDBStore(tmp_path / "lancedb")
    try:
        chunk = Chunk("c1", "a.md", "x", 0, "Riesling", "A", url="https://shop.example/a")
        await store.upsert("old", [chunk], np.array([[1, 0, 0, 0]], dtype=np.float32))
        [hit] = await store.search_vector("old", np.array([1, 0, 0, 0], dtype=np.float32), 1, {})
        assert hit.chunk.url == "https://shop.example/a"
    finally:
        await store.aclose()
