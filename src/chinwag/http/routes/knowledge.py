"""HTTP routes for a bot's knowledge: upload documents (a background job), poll the job, list,
delete and search documents, see the index."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile
from pydantic import BaseModel, Field

from chinwag.bots.service import get_bot
from chinwag.config.bot import BotConfig, EmbeddingConfig, KnowledgeConfig
from chinwag.errors import (
    ChinwagError,
    DocumentNotFound,
    InvalidRequest,
    KnowledgeNotConfigured,
    UploadTooLarge,
)
from chinwag.http.deps import PrincipalDep
from chinwag.http.runtime import Services, ServicesDep
from chinwag.knowledge.checks import check_index
from chinwag.knowledge.ingest import delete_documents
from chinwag.knowledge.jobs import get_job
from chinwag.knowledge.loaders import SUPPORTED
from chinwag.knowledge.search import KnowledgeService

router = APIRouter(prefix="/v1", tags=["knowledge"])
SAFE_NAME = re.compile(r"[^\w.-]+")


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


class JobOut(BaseModel):
    id: str
    bot_id: str
    status: Literal["running", "completed", "failed"]
    progress: dict[str, int] = Field(
        description="files_total, files_done, chunks, chunks_embedded."
    )
    summary: dict[str, Any] | None = Field(
        None, description="added, replaced, unchanged, removed, failed [{source, reason}], chunks."
    )
    error: dict[str, str] | None = Field(None, description="code, message, hint.")


class DocumentOut(BaseModel):
    checksum: str = Field(description="SHA-256 of the document's content (this version).")
    chunks: int = Field(description="Chunks of this version in the index.")
    added_at: datetime | None = Field(
        description="When this version was indexed (UTC); null for documents indexed before "
        "chinwag recorded it."
    )


class IndexOut(BaseModel):
    store: str
    index: str
    dimension: int | None
    chunks: int
    documents: dict[str, DocumentOut] = Field(description="The documents, by source.")


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    mode: Literal["vector", "keyword", "hybrid"] | None = None
    top_k: int | None = Field(None, ge=1, le=50)
    filters: dict[str, str | int] = Field(default_factory=dict)


class SearchHit(BaseModel):
    document: str
    title: str
    score: float
    snippet: str
    metadata: dict[str, Any]


async def _service(services: Services, bot_id: str) -> tuple[BotConfig, KnowledgeService]:
    async with services.db.read() as conn:
        bot = (await get_bot(conn, bot_id)).config
    service = services.knowledge.for_bot(bot)
    if service is None:
        raise KnowledgeNotConfigured(f"bot '{bot_id}' has no knowledge section")
    return bot, service


async def _checked(services: Services, bot_id: str) -> tuple[BotConfig, KnowledgeService]:
    bot, service = await _service(services, bot_id)
    assert bot.knowledge is not None
    await check_index(service.store, bot.knowledge.index, service.embedder, bot=bot_id)
    return bot, service


@router.post("/bots/{bot_id}/knowledge/documents", status_code=202, response_model=JobAccepted)
async def upload(
    bot_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    files: Annotated[list[UploadFile], File(description="Text, Markdown, HTML, PDF or CSV.")],
    tags: Annotated[list[str] | None, Form(description="Tags for every document.")] = None,
) -> JobAccepted:
    """Save the files and ingest them in the background; poll the job for progress (secret)."""
    principal.require_bot(bot_id, kinds=("secret",))
    _, service = await _checked(services, bot_id)
    jobs = services.ingest_jobs
    job_id, folder = jobs.new_folder()
    try:
        for upload in files:
            await _save(upload, folder, services.settings.max_upload_file_bytes)
    except ChinwagError:
        await asyncio.to_thread(_remove, folder)
        raise
    await jobs.start(job_id, bot_id=bot_id, knowledge=service, folder=folder, tags=tags or [])
    return JobAccepted(job_id=job_id, status_url=f"/v1/knowledge/jobs/{job_id}")


async def _save(upload: UploadFile, folder: Path, max_bytes: int) -> None:
    name = SAFE_NAME.sub("_", Path(upload.filename or "document.txt").name).lstrip(".")
    if not name:
        raise InvalidRequest(f"the file name {upload.filename!r} is not usable")
    if Path(name).suffix.lower() not in SUPPORTED:  # else the job's folder walk would skip it
        raise InvalidRequest(
            f"{name}: unsupported file type '{Path(name).suffix}'",
            hint=f"Upload {', '.join(SUPPORTED)} files; convert other documents first.",
        )
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadTooLarge(
            f"{name} is larger than {max_bytes} bytes (CHINWAG_MAX_UPLOAD_FILE_BYTES)",
            max_bytes=max_bytes,
        )
    await asyncio.to_thread((folder / name).write_bytes, data)


def _remove(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@router.get("/knowledge/jobs/{job_id}", response_model=JobOut)
async def job(job_id: str, services: ServicesDep, principal: PrincipalDep) -> JobOut:
    """An ingestion job's progress, and its summary once it has finished (its bot's secret)."""
    async with services.db.read() as conn:
        row = await get_job(conn, job_id)
    principal.require_bot(row["bot_id"], kinds=("secret",))
    return JobOut.model_validate(row)


@router.get("/bots/{bot_id}/knowledge", response_model=IndexOut)
async def index_info(bot_id: str, services: ServicesDep, principal: PrincipalDep) -> IndexOut:
    """The bot's index: store, dimension, size, and its documents with their checksum, number
    of chunks and the time they were added."""
    principal.require_bot(bot_id, kinds=("secret",))
    bot, service = await _checked(services, bot_id)
    assert bot.knowledge is not None
    info = await service.store.info(bot.knowledge.index)
    documents = await service.store.documents(bot.knowledge.index)
    return IndexOut(
        store=info.store,
        index=info.index,
        dimension=info.dimension,
        chunks=info.count,
        documents={
            source: DocumentOut(checksum=d.checksum, chunks=d.chunks, added_at=d.added_at)
            for source, d in sorted(documents.items())
        },
    )


@router.delete("/bots/{bot_id}/knowledge/documents/{source:path}", status_code=204)
async def delete_document(
    bot_id: str, source: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """Remove a document and all its chunks."""
    principal.require_bot(bot_id, kinds=("secret",))
    bot, service = await _checked(services, bot_id)
    assert bot.knowledge is not None
    if source not in await service.store.documents(bot.knowledge.index):
        raise DocumentNotFound(f"index '{bot.knowledge.index}' has no document '{source}'")
    await delete_documents(service.store, bot.knowledge.index, [source])
    return Response(status_code=204)


@router.post("/bots/{bot_id}/knowledge/search", response_model=list[SearchHit])
async def search(
    bot_id: str, body: SearchIn, services: ServicesDep, principal: PrincipalDep
) -> list[SearchHit]:
    """Search the bot's index as its flows do (vector, keyword or hybrid, with filters)."""
    principal.require_bot(bot_id, kinds=("secret",))
    _, service = await _checked(services, bot_id)
    results = await service.search(
        body.query, mode=body.mode, top_k=body.top_k, filters=body.filters
    )
    return [
        SearchHit(
            document=r.document,
            title=r.title,
            score=r.score,
            snippet=r.snippet,
            metadata=r.metadata,
        )
        for r in results
    ]


class IndexIn(BaseModel):
    """The `knowledge` and `embedding` sections of the bot that will use the index."""

    knowledge: KnowledgeConfig
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)


@router.post("/knowledge/indexes", status_code=201, response_model=IndexOut)
async def create_index(body: IndexIn, services: ServicesDep, principal: PrincipalDep) -> IndexOut:
    """Create an index sized for the embedding model, before the bot that uses it exists
    (a bot whose index is missing cannot be activated; admin); 409 if it exists."""
    principal.require_admin()
    service = services.knowledge.service(body.knowledge, body.embedding)
    index = body.knowledge.index
    await service.store.create(index, await service.embedder.dimension())  # 409 if it exists
    info = await service.store.info(index)
    return IndexOut(
        store=info.store, index=index, dimension=info.dimension, chunks=info.count, documents={}
    )
