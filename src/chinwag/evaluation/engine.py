"""The engine a real answer runs through (router, curated answers, flows, retrieval, table
lookup), set up for one bot outside a server, to answer labelled questions or inspect them."""

from __future__ import annotations

from dataclasses import dataclass

from chinwag.config.bot import BotConfig
from chinwag.db.base import utcnow
from chinwag.engine.context import Answer, Emit, FlowContext, MessageInput, ModelFor
from chinwag.engine.curated import CuratedLookup
from chinwag.engine.router import Router
from chinwag.engine.runner import run_message
from chinwag.engine.scope import Scope
from chinwag.engine.tables import TableLookups
from chinwag.handoff.texts import handoff_reply
from chinwag.handoff.visitor import PersonAsked
from chinwag.knowledge.search import KnowledgeService

EVAL_USER = "chinwag-eval"


def _ignore(_event: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class EvalEngine:
    """One bot version with what its answers use; `curated` is None for a bot not yet
    imported (a YAML file has no curated answers)."""

    bot: BotConfig
    version: int
    router: Router
    model_for: ModelFor
    knowledge: KnowledgeService | None
    tables: TableLookups
    curated: CuratedLookup | None = None
    scope: Scope | None = None  # a `grounded` bot's answer policy, as the server applies it

    async def answer(
        self, text: str, *, model_for: ModelFor | None = None, emit: Emit = _ignore
    ) -> Answer:
        """A first message's answer (no history), as the server would give it; `model_for`
        replaces the bot's chat models (e.g. with one that records its prompts)."""
        context = FlowContext(
            bot=self.bot,
            message=MessageInput(
                text=text, history=[], user_id=EVAL_USER, bot_version=self.version
            ),
            emit=emit,
            model_for=model_for or self.model_for,
            knowledge=self.knowledge,
            tables=self.tables,
            ask_person=lambda: self._person_asked(text),
        )
        await run_message(context, router=self.router, curated=self.curated, scope=self.scope)
        return context.answer

    async def _person_asked(self, text: str) -> PersonAsked:
        """What a server would reply to a request for a person; nothing is stored."""
        reply, within_hours = handoff_reply(self.bot, text, utcnow())
        return PersonAsked(reply=reply, within_hours=within_hours, state="waiting")
