"""What a running server holds: built in the app's lifespan, handed to routes by dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from chinwag.auth.keys import KeyCache
from chinwag.auth.ratelimit import RateLimiter
from chinwag.db.uow import Database
from chinwag.generations.service import Generations
from chinwag.generations.workers import WorkerIdentity
from chinwag.knowledge.jobs import IngestJobs
from chinwag.knowledge.runtime import KnowledgeStores
from chinwag.operations.metrics import Metrics
from chinwag.providers.registry import ModelRegistry
from chinwag.settings import Settings
from chinwag.streams.log import EventLog


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
    keys: KeyCache
    secret: bytes  # signs end-user tokens and derives identity secrets
    limiter: RateLimiter
    metrics: Metrics


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
