"""create_app(settings): the ASGI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from chinwag import __version__
from chinwag.auth.keys import KeyCache
from chinwag.auth.ratelimit import RateLimiter
from chinwag.auth.tokens import server_secret
from chinwag.bots.service import list_bots
from chinwag.config.bot import BotConfig
from chinwag.console.api import router as console_api_router
from chinwag.console.bots_api import router as console_bots_router
from chinwag.console.headers import ConsoleHeaders
from chinwag.console.rollups import fold_forever
from chinwag.console.routes import router as console_router
from chinwag.conversations.service import record_answer
from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError
from chinwag.generations import workers
from chinwag.generations.service import Generations
from chinwag.handoff.deliveries import deliver_forever
from chinwag.handoff.email import EmailSender
from chinwag.handoff.tickets import offer_forever
from chinwag.handoff.typing_signals import TypingHub
from chinwag.handoff.webhook import WebhookSender
from chinwag.http import problems
from chinwag.http.deps import authenticate, limit_caller
from chinwag.http.draining import Drain
from chinwag.http.middleware.bodylimit import BodyLimit
from chinwag.http.middleware.cors import KeyOriginsCORS
from chinwag.http.middleware.request_metrics import RequestMetrics
from chinwag.http.problems import OPENAI_ERROR_SCHEMA, PROBLEM_SCHEMA, problem_responses
from chinwag.http.routes.answers import router as answers_router
from chinwag.http.routes.auth import router as auth_router
from chinwag.http.routes.bots import router as bots_router
from chinwag.http.routes.handoff import router as handoff_router
from chinwag.http.routes.health import router as health_router
from chinwag.http.routes.history import router as history_router
from chinwag.http.routes.knowledge import router as knowledge_router
from chinwag.http.routes.messages import router as conversations_router
from chinwag.http.routes.operators import router as operators_router
from chinwag.http.routes.streams import router as streams_router
from chinwag.http.routes.tickets import router as tickets_router
from chinwag.http.runtime import Services
from chinwag.knowledge.jobs import IngestJobs
from chinwag.knowledge.runtime import KnowledgeStores
from chinwag.malloc import fix_mmap_threshold
from chinwag.openai_api.responses import router as responses_router
from chinwag.openai_api.routes import router as openai_router
from chinwag.operations.metrics import Metrics
from chinwag.operations.retention import gc_forever
from chinwag.providers.registry import ModelRegistry
from chinwag.secrets import configure as configure_secrets
from chinwag.settings import Settings
from chinwag.streams.events import event_json_schemas
from chinwag.streams.fanout import RedisFanout
from chinwag.streams.log import EventLog
from chinwag.web.demo_shop import SHOP_API_PATH, demo_shop_app
from chinwag.web.routes import api_router as widget_router
from chinwag.web.routes import assets_router

log = logging.getLogger(__name__)
GC_YOUNG_THRESHOLD = 10_000  # allocations between young-generation collections (Python: 700)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if app.state.settle_heap:
        _fix_the_heap(settings)
    secrets = await asyncio.to_thread(configure_secrets, settings.secrets_file)
    db = Database.from_url(
        settings.database_url,
        pool_size=settings.database_pool_size,
        idle_transaction_seconds=workers.idle_transaction_limit(settings.heartbeat_seconds),
    )
    await migrate.ensure_schema(db)
    me = workers.WorkerIdentity.for_this_process()
    await workers.register(db, me)
    beats = workers.BeatClock(settings.heartbeat_seconds)
    await workers.recover_orphans(db, me=me, heartbeat_seconds=settings.heartbeat_seconds)
    metrics = Metrics()
    fanout = (
        RedisFanout(settings.redis_url, metrics=metrics.for_fanout())
        if settings.redis_url
        else None
    )
    event_log = EventLog(
        db,
        worker_id=me.id,
        record_answer=record_answer,
        metrics=metrics.for_event_log(),
        fanout=fanout,
        max_backlog=settings.event_log_max_backlog,
        commit_interval=settings.event_log_commit_interval_ms / 1000,
    )
    event_log.start()
    models = ModelRegistry(settings)
    knowledge = KnowledgeStores(settings, models)
    ingest_jobs = IngestJobs(db, worker_id=me.id, upload_dir=settings.data_dir / "uploads")
    limiter = RateLimiter(settings, db, redis_failed=metrics.for_fanout().redis_failed)
    generations = Generations(
        limiter=limiter,
        db=db,
        event_log=event_log,
        models=models,
        knowledge=knowledge,
        settings=settings,
        worker_id=me.id,
        metrics=metrics,
        beats=beats,
    )
    metrics.watch_open_streams(lambda: generations.running)
    drain = Drain(
        generations,
        grace_seconds=settings.shutdown_grace_seconds,
        retry_ms=settings.sse_retry_ms,
    )
    app.state.services = Services(
        keys=KeyCache(db, settings.key_cache_seconds),
        metrics=metrics,
        limiter=limiter,
        secret=await asyncio.to_thread(server_secret, settings),
        settings=settings,
        db=db,
        event_log=event_log,
        models=models,
        knowledge=knowledge,
        ingest_jobs=ingest_jobs,
        generations=generations,
        drain=drain,
        worker=me,
        beats=beats,
        fanout=fanout,
        typing=TypingHub(
            fanout.redis if fanout is not None else None,
            redis_failed=metrics.for_fanout().redis_failed,
        ),
    )
    app.state.services.typing.start()
    heartbeat = asyncio.create_task(
        workers.heartbeat_forever(db, me, settings.heartbeat_seconds, event_log, beats),
        name="chinwag-heartbeat",
    )
    retention = asyncio.create_task(gc_forever(db, settings), name="chinwag-retention")
    rollups = asyncio.create_task(
        fold_forever(db, settings.gc_interval_seconds), name="chinwag-daily-charts"
    )
    tickets = asyncio.create_task(offer_forever(db, fanout), name="chinwag-ticket-offers")
    webhooks = asyncio.create_task(
        deliver_forever(
            db,
            WebhookSender(secrets),
            retry_seconds=settings.webhook_retry_seconds,
            mailer=EmailSender(settings.smtp_url, settings.smtp_from),
        ),
        name="chinwag-webhooks",
    )
    # Ready means ready: the embedding model is loaded, every active bot's examples are embedded
    # and its index is open before the first request (a few seconds at most).
    await _prepare_bots(db, generations, knowledge)
    if app.state.settle_heap:
        _settle_the_heap()
    undo_signals = drain.on_signals()
    try:
        yield
    finally:
        undo_signals()
        drain.start()  # without a signal (the server stopped another way): the same steps
        await drain.wait()
        await ingest_jobs.shutdown()
        await generations.tools.aclose()
        await event_log.stop()
        for task in (heartbeat, retention, rollups, webhooks, tickets):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await workers.mark_stopped(db, me)
        except ChinwagError as exc:  # the database is gone; the heartbeat going stale says it
            log.error("could not record this server's stop: %s", exc.message)
        await knowledge.aclose()
        await models.aclose()
        await app.state.services.typing.aclose()
        if fanout is not None:
            await fanout.aclose()
        await db.dispose()


def _fix_the_heap(settings: Settings) -> None:
    """Before anything large is loaded: freed buffers go back to the system (glibc)."""
    threshold = settings.malloc_mmap_threshold_kb
    if threshold and not fix_mmap_threshold(threshold):
        log.warning(
            "CHINWAG_MALLOC_MMAP_THRESHOLD_KB=%d not applied: the C library is not glibc "
            "(set it to 0 to silence this)",
            threshold,
        )


def _settle_the_heap() -> None:
    """Move what start-up allocated (libraries, models, caches: most of the heap) out of the
    garbage collector's sight, and collect the young generation less often. Each full collection
    otherwise walks every start-up object again: under load that was ~10 % of a worker's CPU,
    spent wherever the allocation that triggered it happened (the event log's entries)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _prepare_bots(db: Database, generations: Generations, knowledge: KnowledgeStores) -> None:
    """Before each active bot's first message: load the embedding model, embed the bot's routing
    examples, and open its knowledge index (LanceDB's first import takes seconds)."""
    try:
        async with db.read() as conn:
            bots = await list_bots(conn)
    except ChinwagError as exc:
        log.warning("could not read the bots to prepare them: %s (%s)", exc.message, exc.code)
        return
    for bot in bots:
        try:
            await generations.prepare(bot.config, bot.version)
            await knowledge.check(bot.config)  # opens the index, or says what is wrong with it
        except ChinwagError as exc:  # the bot's first message meets it again, as an event
            log.warning("could not prepare bot %s: %s (%s)", bot.id, exc.message, exc.code)


def create_app(
    settings: Settings | None = None,
    *,
    demo_publishable_key: str | None = None,
    settle_heap: bool = False,
    demo_shop: bool = False,
) -> FastAPI:
    """The application; with `demo_publishable_key`, `/` serves the demo shop using that key,
    and /demo/shop-api the shop's own API that the demo bot's tools call (also `demo_shop`).

    `settle_heap`: a server process of its own (`chinwag serve`, `demo`) tunes the garbage
    collector once started; an app embedded in another program (tests) leaves it alone."""
    app = FastAPI(
        title="chinwag",
        version=__version__,
        summary="Self-hosted backend for retrieval-augmented chatbots.",
        lifespan=_lifespan,
    )
    app.state.settings = settings or Settings()
    app.state.demo_publishable_key = demo_publishable_key
    app.state.settle_heap = settle_heap
    app.add_middleware(
        BodyLimit,
        max_bytes=app.state.settings.max_body_bytes,
        max_upload_bytes=app.state.settings.max_upload_bytes,
    )
    app.add_middleware(KeyOriginsCORS)
    app.add_middleware(RequestMetrics)
    app.add_middleware(ConsoleHeaders)
    problems.handle_errors(app)
    # Every API route runs `authenticate` and the rate limits; routes apply their kind's rules.
    authenticated = [Depends(authenticate), Depends(limit_caller)]
    routers = (
        auth_router,
        console_bots_router,  # before the bot routes: /v1/bots/validate-yaml is not a bot id
        bots_router,
        answers_router,
        conversations_router,
        history_router,
        streams_router,
        handoff_router,
        operators_router,
        tickets_router,
        knowledge_router,
        openai_router,
        responses_router,
        widget_router,
        console_api_router,
    )
    for router in routers:
        errors = problem_responses(openai=router in (openai_router, responses_router))
        app.include_router(router, dependencies=authenticated, responses=errors)
    app.include_router(health_router)
    app.include_router(assets_router)
    app.include_router(console_router, responses=problem_responses())
    if demo_shop or demo_publishable_key is not None:
        app.mount(SHOP_API_PATH, demo_shop_app())
    _document_stream_events(app)
    return app


def create_worker_app() -> FastAPI:
    """The app of one worker process of `chinwag serve --workers N` (uvicorn's factory)."""
    return create_app(settle_heap=True)


def _document_stream_events(app: FastAPI) -> None:
    """Add the SSE event payloads and the bot configuration to the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(event_json_schemas())
            components["Problem"] = PROBLEM_SCHEMA
            components["OpenAIError"] = OPENAI_ERROR_SCHEMA
            config = BotConfig.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(config.pop("$defs", {}))
            components["BotConfig"] = config
            _sse_schemas_describe_events(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _sse_schemas_describe_events(schema: dict[str, Any]) -> None:
    """An SSE response whose schema names its events' payload is that payload, not the
    `type: string` FastAPI puts beside it for a non-JSON response (a client that checks each
    event's data against the schema would find an object where a string is said)."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                sse = response.get("content", {}).get("text/event-stream", {}).get("schema")
                if isinstance(sse, dict) and len(sse) > 1 and sse.get("type") == "string":
                    del sse["type"]
