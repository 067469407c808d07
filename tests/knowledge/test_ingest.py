"""Ingesting files: every format, idempotence, changed and deleted documents, broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chinwag.config.bot import KnowledgeConfig
from chinwag.knowledge.chunking import Chunker
from chinwag.knowledge.ingest import delete_documents, ingest
from chinwag.knowledge.search import KnowledgeService
from chinwag.providers.embeddings.local import LocalEmbedder
from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

from .conftest import INGEST

INDEX = "shop"


@pytest.fixture
async def service(lance: LanceDBStore, embedder: LocalEmbedder) -> KnowledgeService:
    await lance.create(INDEX, await embedder.dimension())
    return KnowledgeService(lance, embedder, KnowledgeConfig(index=INDEX, top_k=3))


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(INGEST, target)
    return target


async def test_every_format_is_ingested_and_broken_files_are_reported(
    service: KnowledgeService, chunker: Chunker, corpus: Path
) -> None:
    summary = await ingest(service.store, service.embedder, INDEX, [corpus], chunker=chunker)
    assert sorted(summary.added) == [
        "catalogue.csv",
        "sample.html",
        "sample.md",
        "sample.pdf",
        "sample.txt",
    ]
    assert [source for source, _ in summary.failed] == ["broken.pdf"]
    assert "broken.pdf" in summary.failed[0][1] and "pdf" in summary.failed[0][1]

    html = await service.search(
        "cellar temperature", mode="keyword", filters={"source": "sample.html"}
    )
    assert html and "steady twelve degrees" in html[0].text
    texts = [r.text for r in await service.search("Home Shop Contact Login", top_k=20)]
    assert not any("Login" in t for t in texts)  # navigation is not content

    pages = await service.search(
        "Barolo Piedmont", mode="keyword", filters={"source": "sample.pdf"}
    )
    assert pages[0].metadata["page"] == 2 and "Barolo" in pages[0].snippet
    page_one = await service.search("Barolo", filters={"source": "sample.pdf", "page": 1})
    assert [r.metadata["page"] for r in page_one] == [1]

    rows = await service.search("Riesling", mode="keyword", filters={"source": "catalogue.csv"})
    assert rows[0].text.startswith("sku: VH-001\nname: Fjordlys Riesling")
    assert rows[0].metadata["row"] == 1 and rows[0].title == "Catalogue"

    md = await service.search("magpie crooked beak", mode="keyword")
    assert md[0].document == "sample.md" and md[0].title == "Cellar Notes"


async def test_reingesting_unchanged_files_does_nothing(
    service: KnowledgeService, chunker: Chunker, corpus: Path
) -> None:
    first = await ingest(service.store, service.embedder, INDEX, [corpus], chunker=chunker)
    count = (await service.store.info(INDEX)).count
    again = await ingest(service.store, service.embedder, INDEX, [corpus], chunker=chunker)
    assert again.added == again.replaced == [] and again.chunks == 0
    assert sorted(again.unchanged) == sorted(first.added)
    assert (await service.store.info(INDEX)).count == count


async def test_changed_file_replaces_its_chunks_and_prune_removes_deleted(
    service: KnowledgeService, chunker: Chunker, corpus: Path
) -> None:
    store, embedder = service.store, service.embedder
    await ingest(store, embedder, INDEX, [corpus], chunker=chunker)
    (corpus / "sample.txt").write_text("The shop now sells cloudberry liqueur from Lofoten.")
    (corpus / "sample.md").unlink()
    summary = await ingest(store, embedder, INDEX, [corpus], chunker=chunker, prune=True)
    assert summary.replaced == ["sample.txt"] and summary.removed == ["sample.md"]
    documents = await store.documents(INDEX)
    assert "sample.md" not in documents
    txt = await service.search("cloudberry", filters={"source": "sample.txt"}, top_k=10)
    assert [r.text for r in txt] == ["The shop now sells cloudberry liqueur from Lofoten."]
    assert await service.search("magpie", mode="keyword") == []
    assert await delete_documents(store, INDEX, ["sample.txt", "nothing.txt"]) == ["sample.txt"]
    assert "sample.txt" not in await store.documents(INDEX)


async def test_tags_filter_and_missing_paths(
    service: KnowledgeService, chunker: Chunker, corpus: Path
) -> None:
    store, embedder = service.store, service.embedder
    await ingest(store, embedder, INDEX, [corpus / "sample.txt"], chunker=chunker, tags=["policy"])
    summary = await ingest(
        store, embedder, INDEX, [corpus / "*.md", corpus / "missing.txt"], chunker=chunker
    )
    assert summary.added == ["sample.md"]
    assert summary.failed == [(str(corpus / "missing.txt"), "no such file or directory")]
    tagged = await service.search("bottles", filters={"tag": "policy"}, top_k=10)
    assert {r.document for r in tagged} == {"sample.txt"}
    assert tagged[0].metadata["tags"] == ["policy"]


async def test_a_snippet_is_plain_text_without_the_title_line(
    service: KnowledgeService, chunker: Chunker, tmp_path: Path
) -> None:
    doc = tmp_path / "hours.md"
    doc.write_text(
        "# Opening hours\n\nSaturday **10 to 16**, see [our page](https://vinhuset.example/hours)."
        "\n\n- Sunday: `closed`\n"
    )
    await ingest(service.store, service.embedder, INDEX, [doc], chunker=chunker)
    (hit,) = await service.search("When are you open on Saturday?", top_k=1)
    assert hit.title == "Opening hours"
    assert hit.snippet == "Saturday 10 to 16, see our page. Sunday: closed"
    assert hit.text.startswith("# Opening hours")  # the flow's prompt still gets the chunk as is


async def test_a_long_chunks_snippet_is_the_passage_about_the_question(
    service: KnowledgeService, chunker: Chunker, tmp_path: Path
) -> None:
    """A reader (and a prompt that uses `s.snippet`) gets the sentences that answer, not the
    chunk's first 300 characters; with no word in common, the chunk's start."""
    filler = " ".join(f"Our cellar holds wine number {i} from a small grower." for i in range(12))
    doc = tmp_path / "shipping.md"
    doc.write_text(
        f"# Shipping\n\n{filler} Delivery to Tromsø costs 149 kroner and takes four days."
        " Orders over 1500 kroner ship free.\n"
    )
    await ingest(service.store, service.embedder, INDEX, [doc], chunker=chunker)
    (hit,) = await service.search("What does delivery to Tromsø cost?", top_k=1)
    assert len(hit.text) > 600
    assert hit.snippet.startswith("…") and len(hit.snippet) <= 300
    assert "Delivery to Tromsø costs 149 kroner" in hit.snippet
    (other,) = await service.search("bicycle repair", top_k=1, mode="vector")
    assert other.snippet.startswith("Our cellar holds wine number 0")


def test_a_text_files_heading_in_capitals_is_its_title(tmp_path: Path) -> None:
    """A source chip shows "Opening hours and how to find us", not the file name, and the
    snippet does not repeat the heading; a name and an abbreviation keep their capitals."""
    from chinwag.knowledge.loaders import SourceFile, load
    from chinwag.knowledge.search import plain_snippet

    doc = tmp_path / "opening-hours.txt"
    doc.write_text(
        "---\nurl: https://shop.example/#hours\n---\nOPENING HOURS AND HOW TO FIND US IN BERGEN"
        "\n\nWe are in the middle of Bergen. Saturday 10 to 16. Bring ID.\n"
    )
    loaded = load(SourceFile(doc, doc.name))
    assert loaded.title == "Opening hours and how to find us in Bergen"
    text = loaded.sections[0].text
    assert (
        plain_snippet(text, loaded.title)
        == "We are in the middle of Bergen. Saturday 10 to 16. Bring ID."
    )
    plain = tmp_path / "notes.txt"
    plain.write_text("SHOUTING ALL THE WAY\nwith no blank line after it.\n")
    assert load(SourceFile(plain, plain.name)).title == "Notes"
    named = tmp_path / "age.txt"
    named.write_text("AGE LIMIT AND ID CHECKS\n\nPlease bring ID.\n")
    assert load(SourceFile(named, named.name)).title == "Age limit and ID checks"
