"""What a running server holds: built in the app's lifespan, handed to routes by dependency."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from chinwag.auth.keys import KeyCache
from chinwag.auth.ratelimit import RateLimiter
from chinwag.db.uow import Database
from chinwag.generations.service import Generations
from chinwag.generations.workers import BeatClock, WorkerIdentity
from chinwag.handoff.typing_signals import TypingHub
from chinwag.http.draining import Drain
from chinwag.knowledge.jobs import IngestJobs
from chinwag.knowledge.runtime import KnowledgeStores
from chinwag.operations.metrics import Metrics
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.streams.fanout import RedisFanout
from chinwag.streams.follow import DatabaseFollower, open_stream
from chinwag.streams.log import EventLog
from chinwag.streams.sse import FrameSource


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    event_log: EventLog
    models: ModelRegistry
    knowledge: KnowledgeStores
    ingest_jobs: IngestJobs
    generations: Generations
    worker: WorkerIdentity
    beats: BeatClock  # when this worker last wrote its heartbeat
    keys: KeyCache
    secret: bytes  # signs end-user tokens and derives identity secrets
    limiter: RateLimiter
    metrics: Metrics
    drain: Drain
    fanout: RedisFanout | None = None  # live fan-out to other workers (CHINWAG_REDIS_URL)
    typing: TypingHub = field(default_factory=TypingHub)  # ephemeral typing signals

    async def follow(self, stream_id: str, after: int = 0) -> FrameSource:
        """A reader of a stream's committed events after seq `after` (404 / 410 if gone; 503
        `server_draining` for a stream written elsewhere once this server is shutting down)."""
        reader = await open_stream(
            db=self.db,
            event_log=self.event_log,
            stream_id=stream_id,
            after=after,
            heartbeat_seconds=self.settings.sse_heartbeat_seconds,
            fanout=self.fanout,
        )
        return self.drain.watch(reader) if isinstance(reader, DatabaseFollower) else reader


async def get_services(request: Request) -> Services:
    """`async`, like every dependency here: FastAPI runs a plain `def` in its thread pool, a
    thread hop per request for a dictionary lookup."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
