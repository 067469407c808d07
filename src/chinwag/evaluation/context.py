"""Context recall: does the prompt `main` is given hold the facts a correct answer needs?

Each labelled question with `facts` runs through the real engine (router, curated answer,
optional flows, retrieval, table lookup) with a chat model that records every prompt it is
given and answers nothing. An optional flow that generates therefore gives `main` an empty
output; its facts are looked for in its own prompt too ("main + flow prompts").
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chinwag.evaluation.facts import missing_facts
from chinwag.providers.protocols import ChatMessage, ChatModel, GenerationOptions, Usage
from chinwag.streams.events import FlowStarted, RetrievalCompleted, StreamEvent

if TYPE_CHECKING:
    from chinwag.config.llm import LLMConfig
    from chinwag.engine.context import Answer
    from chinwag.evaluation.engine import EvalEngine
    from chinwag.evaluation.run import Labelled

NO_KIND = "(no kind)"


class PromptRecorder:
    """A chat model that keeps the prompt of each flow that calls it, and answers nothing.

    It knows the flow from `flow.started`, which the engine emits in the flow's own task
    right before the flow builds its prompt (optional flows run in parallel tasks)."""

    name = "prompt-recorder"

    def __init__(self) -> None:
        self.prompts: dict[str, list[ChatMessage]] = {}
        self.retrieved: list[str] = []  # main's sources, "title (document)", best first
        self._flow_of_task: dict[asyncio.Task[Any], str] = {}

    def emit(self, event: StreamEvent) -> None:
        if isinstance(event, FlowStarted):
            task = asyncio.current_task()
            if task is not None:
                self._flow_of_task[task] = event.flow
        elif isinstance(event, RetrievalCompleted) and event.flow == "main":
            self.retrieved = [f"{s.title} ({s.document})" for s in event.sources]

    def model_for(self, _llm: LLMConfig | None) -> ChatModel:
        return self

    async def stream(
        self, messages: Sequence[ChatMessage], options: GenerationOptions
    ) -> AsyncIterator[str | Usage]:
        task = asyncio.current_task()
        flow = self._flow_of_task.get(task) if task is not None else None
        if flow is None:
            raise RuntimeError("a prompt reached the recorder outside a flow (no flow.started)")
        self.prompts[flow] = list(messages)
        return
        yield  # an async generator that yields nothing

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ContextCheck:
    """One question's facts against what `main` was given."""

    message: str
    kind: str | None
    facts: list[str]
    missing: list[str]  # not in main's prompt (or the answer given without one)
    missing_with_flows: list[str]  # not there nor in the prompt of a flow main heard from
    answered_by: str  # main | curated answer | <flow> word for word | declined (<reason>)
    prompt_chars: int | None  # main's prompt; None when no LLM call wrote the answer
    flows: list[str]  # the optional flows routed
    retrieved: list[str]  # main's sources, "title (document)", best first


async def check_context(engine: EvalEngine, items: Sequence[Labelled]) -> list[ContextCheck]:
    """Run every question that has facts through the engine and look for its facts."""
    checks = []
    for item in items:
        if not item.facts:
            continue
        recorder = PromptRecorder()
        answer = await engine.answer(item.message, model_for=recorder.model_for, emit=recorder.emit)
        checks.append(_check(item.message, item.facts, item.kind, answer, recorder))
    return checks


def _check(
    message: str, facts: list[str], kind: str | None, answer: Answer, recorder: PromptRecorder
) -> ContextCheck:
    main = recorder.prompts.get("main")
    if answer.declined is not None:
        given, answered_by = answer.text, f"declined ({answer.declined.reason})"
    elif answer.verbatim_from is not None:
        given, answered_by = answer.text, f"{answer.verbatim_from} word for word"
    elif main is None and answer.curated is not None:
        given, answered_by = answer.text, "curated answer"
    else:
        given, answered_by = _text(main or []), "main"
    heard_from = [
        r.flow for r in answer.flow_results if r.flow != "main" and r.status == "completed"
    ]
    flow_prompts = [_text(recorder.prompts[f]) for f in heard_from if f in recorder.prompts]
    missing = missing_facts(facts, given, besides=message)
    return ContextCheck(
        message=message,
        kind=kind,
        facts=facts,
        missing=missing,
        missing_with_flows=missing_facts(missing, "\n\n".join(flow_prompts), besides=message),
        answered_by=answered_by,
        prompt_chars=sum(len(m.content) for m in main) if main is not None else None,
        flows=list(answer.route.flows) if answer.route is not None else [],
        retrieved=recorder.retrieved,
    )


def _text(prompt: Sequence[ChatMessage]) -> str:
    return "\n\n".join(m.content for m in prompt)


@dataclass(slots=True)
class ContextReport:
    """Context recall over the checked questions: overall, by `kind`, and what was missed."""

    checks: list[ContextCheck] = field(default_factory=list)

    def recall(self, *, with_flows: bool = False, kind: str | None = None) -> float | None:
        """Share of questions whose prompt holds all their facts (`with_flows`: main's prompt
        or the prompts of the flows main heard from); None without questions."""
        count = self.count(kind)
        return self.held(with_flows=with_flows, kind=kind) / count if count else None

    def held(self, *, with_flows: bool = False, kind: str | None = None) -> int:
        """How many questions (of `kind`) have all their facts in the prompt."""
        return sum(
            not (c.missing_with_flows if with_flows else c.missing)
            for c in self.checks
            if kind is None or (c.kind or NO_KIND) == kind
        )

    def count(self, kind: str | None = None) -> int:
        return sum(kind is None or (c.kind or NO_KIND) == kind for c in self.checks)

    def kinds(self) -> list[str]:
        """The kinds the questions name, in order of first use; NO_KIND last."""
        found = dict.fromkeys(c.kind or NO_KIND for c in self.checks)
        return sorted(found, key=lambda k: k == NO_KIND)

    @property
    def median_prompt_chars(self) -> float | None:
        sizes = [c.prompt_chars for c in self.checks if c.prompt_chars is not None]
        return statistics.median(sizes) if sizes else None

    @property
    def misses(self) -> list[ContextCheck]:
        """The questions whose main prompt lacks one of their facts."""
        return [c for c in self.checks if c.missing]

    def as_dict(self) -> dict[str, Any]:
        return {
            "questions": len(self.checks),
            "main_prompt": self.recall(),
            "main_and_flow_prompts": self.recall(with_flows=True),
            "by_kind": {
                kind: {
                    "questions": self.count(kind),
                    "main_prompt": self.recall(kind=kind),
                    "main_and_flow_prompts": self.recall(with_flows=True, kind=kind),
                }
                for kind in self.kinds()
            },
            "median_prompt_chars": self.median_prompt_chars,
            "misses": [
                {
                    "message": c.message,
                    "kind": c.kind,
                    "missing": c.missing,
                    "missing_with_flows": c.missing_with_flows,
                    "answered_by": c.answered_by,
                    "flows": c.flows,
                    "retrieved": c.retrieved,
                }
                for c in self.misses
            ],
        }
