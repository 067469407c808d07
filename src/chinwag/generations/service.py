"""Accept a message in one transaction, then run its generation as a server-owned task.

The task belongs to this object, not to the HTTP request: a client that disconnects never
cancels it. On shutdown, running generations get a grace period, then finish as `interrupted`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.answers.matching import CuratedMatcher
from chinwag.auth.ratelimit import RateLimiter
from chinwag.bots.service import BotCache, get_bot_version
from chinwag.config.bot import BotConfig
from chinwag.conversations.service import (
    Accepted,
    Turn,
    accept_message,
    load_history,
    record_answer,
)
from chinwag.conversations.tool_actions import ActionStore
from chinwag.db.uow import Database
from chinwag.engine.context import Answer, AskPerson, FlowContext, MessageInput
from chinwag.engine.curated import answer_pieces
from chinwag.engine.follow_up import Earlier
from chinwag.engine.router import Router
from chinwag.engine.runner import run_message
from chinwag.engine.scope import Scope
from chinwag.engine.tables import TableLookups
from chinwag.errors import (
    ChinwagError,
    GenerationInterrupted,
    ResponseCancelled,
    ServerDraining,
)
from chinwag.generations.timer import GenerationTimer
from chinwag.generations.workers import BeatClock, beat
from chinwag.handoff.follow import publish
from chinwag.handoff.visitor import (
    Held,
    PersonAsked,
    ask_if_asking,
    ask_in_words,
    hold_if_with_person,
)
from chinwag.knowledge.runtime import KnowledgeStores
from chinwag.providers.protocols import Sampling
from chinwag.providers.registry import ModelRegistry
from chinwag.secrets import server_secrets
from chinwag.settings import Settings
from chinwag.streams.ending import EndStatus, StreamEnd, ending_events
from chinwag.streams.events import HandoffRequested, LogEntry, MessageDelta, started_entry
from chinwag.streams.events import StreamEvent as Event
from chinwag.streams.log import EventLog
from chinwag.streams.store import end_from_stored_log
from chinwag.streams.writer import StreamWriter
from chinwag.tools.call import ToolCaller
from chinwag.tools.decisions import Decision

if TYPE_CHECKING:
    from chinwag.operations.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class NewMessage:
    bot_id: str
    text: str
    user_id: str | None
    session_id: str | None
    idempotency_key: str | None
    body_hash: str
    seed: tuple[Turn, ...] = ()  # earlier turns opening a new session (OpenAI-style history)
    sampling: Sampling | None = None  # an OpenAI-compatible caller's wishes for `main`'s LLM
    # Rows of the caller's own about the accepted message, in its transaction.
    on_accepted: Callable[[AsyncConnection, Accepted], Awaitable[None]] | None = None
    # The caller takes a `Held` result: a person has the session, the bot does not answer.
    # Other callers meet 409 `session_with_operator` on such a session.
    hold: bool = False
    decision: Decision | None = None  # the visitor confirms or cancels a held tool action


SHUT_DOWN = "the server shut down while this answer was being written"
CANCEL_ATTEMPTS = 5  # to lock another worker's stream between its writer's batches
BACKLOG_FULL = (
    "the database was unreachable for too long while this answer was being written "
    "(CHINWAG_EVENT_LOG_MAX_BACKLOG)"
)


class Generations:
    def __init__(
        self,
        *,
        db: Database,
        event_log: EventLog,
        models: ModelRegistry,
        knowledge: KnowledgeStores,
        settings: Settings,
        worker_id: str,
        metrics: Metrics | None = None,
        beats: BeatClock,
        limiter: RateLimiter | None = None,
    ) -> None:
        """`limiter`: counts each end user's tool calls (limits.tool_calls_per_user)."""
        self._db = db
        self._beats = beats
        self._log = event_log
        self._models = models
        self._knowledge = knowledge
        self._settings = settings
        self._worker_id = worker_id
        self._metrics = metrics
        self._bots = BotCache()
        self.router = Router(
            embedder_for=lambda bot: models.embedder(bot.embedding), model_for=models.for_bot
        )
        self.tables = TableLookups(lambda bot: models.embedder(bot.embedding))
        self.tools = ToolCaller(server_secrets(), mcp_commands=settings.mcp_command_set)
        self.actions = ActionStore(db)  # tool calls waiting for the visitor's confirmation
        self._tool_gate = limiter.hit_tool_call if limiter is not None else None
        self.curated = CuratedMatcher(db, lambda bot: models.embedder(bot.embedding))
        self.scope = Scope(lambda bot: models.embedder(bot.embedding))
        self._tasks: set[asyncio.Task[None]] = set()
        self._open: collections.Counter[tuple[str, str]] = collections.Counter()
        self._draining_retry_after: int | None = None
        self._stop_reasons: dict[asyncio.Task[None], str | GenerationInterrupted] = {}

    async def prepare(self, bot: BotConfig, version: int) -> None:
        """Learn a bot version's routing examples and scope now (at activation) rather than
        on its first message."""
        await self.router.prepare(bot, version)
        if bot.answer_policy.mode == "grounded":
            await self.scope.classifier(bot, version)

    def stop_accepting(self, *, retry_after: int) -> None:
        """Refuse new messages from now on (503 `server_draining`, Retry-After): the server
        is shutting down."""
        self._draining_retry_after = retry_after

    @property
    def running(self) -> int:
        return len(self._tasks)

    def open_for(self, bot_id: str, user_id: str) -> int:
        """Answers being written on this server for one end user (external id)."""
        return self._open.get((bot_id, user_id), 0)

    async def accept(self, new: NewMessage) -> Accepted | Held:
        """Write the message's rows in one transaction, then start its generation; while a
        person has the session, store the message only (`Held`)."""
        if self._draining_retry_after is not None:
            raise ServerDraining(
                "this server is shutting down and takes no new messages",
                retry_after=self._draining_retry_after,
            )
        beat_due = self._beats.due()
        started = self._beats.now()
        asked: PersonAsked | None = None
        events: list[LogEntry] = []
        async with self._db.write() as conn:
            if beat_due:  # the heartbeat task is late: this worker is alive, say so
                await beat(conn, self._worker_id)
            version = await get_bot_version(conn, new.bot_id)
            held = None
            if new.session_id is not None:
                held = await hold_if_with_person(
                    conn,
                    bot_id=new.bot_id,
                    session_id=new.session_id,
                    user_id=new.user_id,
                    text=new.text,
                    idempotency_key=new.idempotency_key,
                    body_hash=new.body_hash,
                    hold=new.hold,
                )
            if held is None:
                accepted = await accept_message(
                    conn,
                    bot_id=new.bot_id,
                    bot_version=version,
                    text=new.text,
                    user_external_id=new.user_id,
                    session_external_id=new.session_id,
                    worker_id=self._worker_id,
                    idempotency_key=new.idempotency_key,
                    body_hash=new.body_hash,
                    seed=new.seed,
                )
                if new.on_accepted is not None and not accepted.replayed:
                    await new.on_accepted(conn, accepted)
                if not accepted.replayed:
                    asked = await ask_if_asking(conn, self._bots, accepted, new.text, events)
        if beat_due:
            self._beats.beaten(started)
        if held is not None:
            if held.event is not None:
                await publish(self._log.fanout, held.session_pk, [held.event])
            return held
        if events:
            await publish(self._log.fanout, accepted.session_pk, events)
        if not accepted.replayed:
            writer = self._log.open(accepted.stream_id, [started_entry(accepted.started_event)])
            task = asyncio.create_task(
                self._generate(accepted, new, writer, asked),
                name=f"generation-{accepted.stream_id}",
            )
            writer.on_ended_elsewhere = task.cancel  # another server ended this stream
            writer.on_backlog_full = lambda: self._stop(task, BACKLOG_FULL)
            self._tasks.add(task)
            owner = (accepted.bot_id, accepted.user_id)
            self._open[owner] += 1
            task.add_done_callback(lambda done: self._done(done, owner))
        return accepted

    async def cancel(self, stream_id: str) -> bool:
        """Stop the generation of this stream: it ends `interrupted` with `response_cancelled`,
        its text so far kept. Another worker's stream is ended in the database, with the text
        it committed; that worker notices and stops its generation. False: the stream is not
        being written (any more), or its writer held it locked each time it was tried."""
        cancelled = ResponseCancelled("the response was cancelled")
        for task in self._tasks:
            if task.get_name() == f"generation-{stream_id}":
                self._stop(task, cancelled)
                return True
        for attempt in range(CANCEL_ATTEMPTS):
            if attempt:
                await asyncio.sleep(0.05 * attempt)  # its writer was committing a batch
            async with self._db.write() as conn:
                ended = await end_from_stored_log(
                    conn,
                    stream_id,
                    status="interrupted",
                    error=cancelled,
                    ended_by=self._worker_id,
                    record_answer=record_answer,
                )
            if ended:
                return True
        return False

    def _stop(self, task: asyncio.Task[None], why: str | GenerationInterrupted) -> None:
        """Cancel a generation; it ends `interrupted`, its error saying why."""
        self._stop_reasons[task] = why
        task.cancel()

    def _done(self, task: asyncio.Task[None], owner: tuple[str, str]) -> None:
        self._stop_reasons.pop(task, None)
        self._tasks.discard(task)
        self._open[owner] -= 1
        if self._open[owner] <= 0:
            del self._open[owner]

    async def _generate(
        self,
        accepted: Accepted,
        new: NewMessage,
        writer: StreamWriter,
        asked: PersonAsked | None = None,
    ) -> None:
        answer = Answer()
        timer = GenerationTimer(self._metrics, accepted.bot_id) if self._metrics else None

        def emit(event: Event) -> int:
            if timer is not None:
                timer.saw(event)
            return writer.append(event)

        try:
            if asked is not None:  # no LLM: say honestly what happens next
                emit(HandoffRequested(state=asked.state, within_hours=asked.within_hours))
                for piece in answer_pieces(asked.reply):
                    answer.parts.append(piece)
                    emit(MessageDelta(text=piece))
                await self._finish(accepted, writer, answer, "completed", timer=timer)
                return
            bot, history = await self._context(accepted)
            message = MessageInput(
                text=new.text,
                history=[(t.role, t.content) for t in history],
                earlier=Earlier.from_routes([t.route for t in history if t.role == "assistant"]),
                user_id=accepted.user_id,
                bot_version=accepted.bot_version,
                sampling=new.sampling,
                session_pk=accepted.session_pk,
                user_message_id=accepted.user_message_id,
                message_id=accepted.assistant_message_id,
                decision=new.decision,
            )
            context = FlowContext(
                bot=bot,
                message=message,
                emit=emit,
                model_for=self._models.for_bot,
                knowledge=self._knowledge.for_bot(bot),
                tables=self.tables,
                answer=answer,
                tools=self.tools,
                actions=self.actions,
                tool_gate=self._tool_gate,
                ask_person=self._person_asker(bot, accepted, new.text),
            )
            await run_message(context, router=self.router, curated=self.curated, scope=self.scope)
        except asyncio.CancelledError:
            this = asyncio.current_task()
            why = self._stop_reasons.get(this, SHUT_DOWN) if this is not None else SHUT_DOWN
            interrupted = (
                why if isinstance(why, GenerationInterrupted) else GenerationInterrupted(why)
            )
            await asyncio.shield(
                self._finish(accepted, writer, answer, "interrupted", interrupted, timer)
            )
            raise
        except ChinwagError as exc:
            await self._finish(accepted, writer, answer, "failed", exc, timer)
        except Exception as exc:
            log.exception("generation %s failed", accepted.stream_id)
            internal = ChinwagError(f"internal error: {exc!r}")
            await self._finish(accepted, writer, answer, "failed", internal, timer)
        else:
            await self._finish(accepted, writer, answer, "completed", timer=timer)

    def _person_asker(self, bot: BotConfig, accepted: Accepted, text: str) -> AskPerson:
        """For the bot's learnt `handoff` flow: the session to the operators' queue, in a
        transaction of its own; its events are published once committed."""

        async def ask() -> PersonAsked:
            events: list[LogEntry] = []
            async with self._db.write() as conn:
                asked = await ask_in_words(conn, bot, accepted.session_pk, text, events)
            await publish(self._log.fanout, accepted.session_pk, events)
            return asked

        return ask

    async def _context(self, accepted: Accepted) -> tuple[BotConfig, list[Turn]]:
        """The bot's configuration and the session's history; no query when neither is needed."""
        bot = self._bots.cached(accepted.bot_id, accepted.bot_version)
        if bot is not None and accepted.position == 1:
            return bot, []  # a new session has no history
        async with self._db.read() as conn:
            if bot is None:
                bot = await self._bots.get(conn, accepted.bot_id, accepted.bot_version)
            turns = bot.history_turns
            history = await load_history(
                conn,
                session_pk=accepted.session_pk,
                before_position=accepted.position,
                limit=self._settings.history_turns if turns is None else turns,
            )
        return bot, history

    async def _finish(
        self,
        accepted: Accepted,
        writer: StreamWriter,
        answer: Answer,
        status: EndStatus,
        error: ChinwagError | None = None,
        timer: GenerationTimer | None = None,
    ) -> None:
        """Append the ending events and commit them with the message's final state."""
        if writer.ended_elsewhere:
            return  # its readers already got the ending stored in the database
        usage = answer.usage
        curated = answer.curated.mark(answer.curated_mode) if answer.curated else None
        declined = answer.declined.reason if answer.declined else None
        if timer is not None:
            timer.finished(status, usage, error.code if error else None)
            if curated is not None:
                timer.curated(curated.mode)
        final = ending_events(
            status,
            message_id=accepted.assistant_message_id,
            text=answer.text,
            usage=usage,
            error=error,
            sources=answer.sources,
            curated=curated,
            declined=declined,
        )
        await writer.finish(
            final,
            StreamEnd(
                stream_id=accepted.stream_id,
                message_id=accepted.assistant_message_id,
                status=status,
                content=answer.text,
                usage=usage,
                error_code=error.code if error else None,
                bot_id=accepted.bot_id,
                route=answer.route_record(),
                citations=[s.model_dump() for s in answer.sources] or None,
                flow_runs=[result.as_row() for result in answer.flow_results],
                ttft_ms=timer.ttft_ms if timer is not None else None,
                declined=declined,
            ),
        )

    async def shutdown(self, grace_seconds: float) -> None:
        """Let running generations finish for `grace_seconds`, then interrupt the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
