"""Token-aware chunking with the embedding model's own tokenizer (semantic-text-splitter)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chinwag.knowledge.loaders import LoadedDocument
from chinwag.providers.vectorstores.base import Chunk, chunk_id


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    size: int = 250  # most tokens in a chunk (all-MiniLM-L6-v2 reads 256, with 2 special ones)
    overlap: int = 32  # tokens shared by neighbouring chunks


class Chunker:
    """Splits documents at semantic boundaries (headings, paragraphs, sentences) by token count.

    Blocking (Rust, fast); callers run it in a worker thread.
    """

    def __init__(self, options: ChunkingOptions | None = None, tokenizer: Any = None) -> None:
        from semantic_text_splitter import MarkdownSplitter, TextSplitter

        self.options = options or ChunkingOptions()
        if tokenizer is None:
            tokenizer = default_tokenizer()
        size, overlap = self.options.size, self.options.overlap
        self._text = TextSplitter.from_huggingface_tokenizer(tokenizer, size, overlap=overlap)
        self._markdown = MarkdownSplitter.from_huggingface_tokenizer(
            tokenizer, size, overlap=overlap
        )

    def split(self, document: LoadedDocument, tags: tuple[str, ...] = ()) -> list[Chunk]:
        splitter = self._markdown if document.markdown else self._text
        chunks: list[Chunk] = []
        for section in document.sections:
            for text in splitter.chunks(section.text):
                position = len(chunks)
                chunks.append(
                    Chunk(
                        id=chunk_id(document.source, document.checksum, position),
                        source=document.source,
                        checksum=document.checksum,
                        position=position,
                        text=text,
                        title=document.title,
                        page=section.page,
                        row=section.row,
                        tags=tags,
                        url=document.url,
                    )
                )
        return chunks


def default_tokenizer() -> Any:
    """The tokenizer of the embedded embedding model (all-MiniLM-L6-v2), for token counts."""
    from tokenizers import Tokenizer

    from chinwag.providers.embeddings.model_files import onnx_files

    tokenizer = Tokenizer.from_file(str(onnx_files("all-MiniLM-L6-v2").tokenizer))
    tokenizer.no_truncation()  # the file truncates and pads to 128, which would cap every count
    tokenizer.no_padding()
    return tokenizer
