"""Ingestion as a background job: files saved, then ingested off the request, progress in the DB.

The job belongs to the server that received the upload (the files are on its disk). Progress is
written at most every PROGRESS_SECONDS so any server can answer a poll; a job whose server stops
is failed by recovery, never left `running`.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError, JobNotFound
from chinwag.knowledge.ingest import IngestSummary, ingest
from chinwag.knowledge.models import KnowledgeJob
from chinwag.knowledge.search import KnowledgeService

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.5


@dataclass
class JobProgress:
    """Counts an ingestion reports (the IngestProgress protocol), kept as the job's progress."""

    files_total: int = 0
    files_done: int = 0
    chunks: int = 0
    embedded: int = 0

    def files_found(self, total: int) -> None:
        self.files_total = total

    def file_done(self, source: str) -> None:
        self.files_done += 1

    def chunks_made(self, count: int) -> None:
        self.chunks += count

    def chunks_embedded(self, count: int) -> None:
        self.embedded += count

    def as_dict(self) -> dict[str, int]:
        return {
            "files_total": self.files_total,
            "files_done": self.files_done,
            "chunks": self.chunks,
            "chunks_embedded": self.embedded,
        }


class IngestJobs:
    """Starts ingestion jobs as tasks of this server and records them."""

    def __init__(self, db: Database, *, worker_id: str, upload_dir: Path) -> None:
        self._db = db
        self._worker_id = worker_id
        self.upload_dir = upload_dir
        self._tasks: set[asyncio.Task[None]] = set()

    def new_folder(self) -> tuple[str, Path]:
        job_id = new_id()
        folder = self.upload_dir / job_id
        folder.mkdir(parents=True)
        return job_id, folder

    async def start(
        self,
        job_id: str,
        *,
        bot_id: str,
        knowledge: KnowledgeService,
        folder: Path,
        tags: Sequence[str],
    ) -> None:
        """Record the job, then ingest `folder` in the background (the folder is removed after)."""
        progress = JobProgress()
        async with self._db.write() as conn:
            await conn.execute(
                insert(KnowledgeJob).values(
                    id=job_id,
                    bot_id=bot_id,
                    worker_id=self._worker_id,
                    status="running",
                    progress=progress.as_dict(),
                    created_at=utcnow(),
                )
            )
        task = asyncio.create_task(
            self._run(job_id, knowledge, folder, tags, progress), name=f"ingest-{job_id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self,
        job_id: str,
        knowledge: KnowledgeService,
        folder: Path,
        tags: Sequence[str],
        progress: JobProgress,
    ) -> None:
        reporter = asyncio.create_task(self._report(job_id, progress))
        summary: IngestSummary | None = None
        error: ChinwagError | None = None
        try:
            summary = await ingest(
                knowledge.store,
                knowledge.embedder,
                knowledge.config.index,
                [folder],
                tags=tags,
                progress=progress,
            )
        except ChinwagError as exc:
            error = exc
        except Exception as exc:
            log.exception("ingestion job %s failed", job_id)
            error = ChinwagError(f"ingestion failed: {exc!r}")
        finally:
            reporter.cancel()
            await asyncio.to_thread(shutil.rmtree, folder, True)
        await self._finish(job_id, progress, summary, error)

    async def _report(self, job_id: str, progress: JobProgress) -> None:
        last: dict[str, int] = {}
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            now = progress.as_dict()
            if now != last:
                async with self._db.write() as conn:
                    await conn.execute(
                        update(KnowledgeJob).where(KnowledgeJob.id == job_id).values(progress=now)
                    )
                last = now

    async def _finish(
        self,
        job_id: str,
        progress: JobProgress,
        summary: IngestSummary | None,
        error: ChinwagError | None,
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(KnowledgeJob)
                .where(KnowledgeJob.id == job_id)
                .values(
                    status="failed" if error else "completed",
                    progress=progress.as_dict(),
                    summary=summary_dict(summary) if summary else None,
                    error=None
                    if error is None
                    else {"code": error.code, "message": error.message, "hint": error.hint},
                    finished_at=utcnow(),
                )
            )

    async def shutdown(self) -> None:
        """Stop this server's jobs and record them as failed (their files go with the server)."""
        if not self._tasks:
            return
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            async with self._db.write() as conn:
                await fail_jobs_of(conn, [self._worker_id])
        except ChinwagError as exc:  # recovery by the next server records it instead
            log.error("could not record the stopped ingestion jobs: %s", exc.message)


def summary_dict(summary: IngestSummary) -> dict[str, Any]:
    return {
        "added": summary.added,
        "replaced": summary.replaced,
        "unchanged": summary.unchanged,
        "removed": summary.removed,
        "failed": [{"source": s, "reason": r} for s, r in summary.failed],
        "chunks": summary.chunks,
    }


async def get_job(conn: AsyncConnection, job_id: str) -> dict[str, Any]:
    row = (await conn.execute(select(KnowledgeJob).where(KnowledgeJob.id == job_id))).first()
    if row is None:
        raise JobNotFound(f"ingestion job '{job_id}' does not exist")
    return dict(row._mapping)


async def fail_jobs_of(conn: AsyncConnection, worker_ids: Sequence[str]) -> int:
    """Fail the running jobs of servers that stopped; their files went with them."""
    if not worker_ids:
        return 0
    result = await conn.execute(
        update(KnowledgeJob)
        .where(KnowledgeJob.status == "running", KnowledgeJob.worker_id.in_(worker_ids))
        .values(
            status="failed",
            finished_at=utcnow(),
            error={
                "code": "interrupted",
                "message": "the server doing this ingestion stopped",
                "hint": "Upload the files again; unchanged documents are skipped.",
            },
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
