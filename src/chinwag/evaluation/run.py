"""`chinwag eval`: run a bot owner's labelled questions through the real router and search.

A labelled file is JSON Lines: {"message", "flows": [...], "documents": [...], "facts": [...],
"kind"?, "reference"?}. `flows` are the optional flows the message needs ([] for main alone);
`documents` the sources (file names or paths as ingested) that answer it; `facts` short strings
a correct answer needs, looked for in main's prompt (context.py), grouped by `kind`. Any of
them may be left out of a line.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from chinwag.config.bot import BotConfig
from chinwag.config.strict import SearchMode
from chinwag.engine.person_requests import HANDOFF_FLOW, learns_handoff
from chinwag.engine.router import Router
from chinwag.errors import EvalFileInvalid
from chinwag.evaluation.context import ContextReport
from chinwag.knowledge.search import KnowledgeService

DEPTHS = (1, 3, 5)
MODES: tuple[SearchMode, ...] = ("vector", "keyword", "hybrid")
MAIN_ALONE = "(main alone)"


@dataclass(frozen=True, slots=True)
class Labelled:
    message: str
    flows: list[str] | None = None
    documents: list[str] | None = None
    reference: str | None = None
    facts: list[str] | None = None
    kind: str | None = None


@dataclass(slots=True)
class Routed:
    message: str
    expected: list[str]
    chosen: list[str]
    scores: dict[str, float]
    ms: float

    @property
    def right(self) -> bool:
        return set(self.expected) == set(self.chosen)


@dataclass(slots=True)
class Searched:
    message: str
    expected: list[str]
    found: dict[str, list[str]]  # mode -> documents of the top results, best first


@dataclass(slots=True)
class EvalReport:
    bot: str
    routed: list[Routed] = field(default_factory=list)
    searched: list[Searched] = field(default_factory=list)
    modes: list[SearchMode] = field(default_factory=list)
    context: ContextReport = field(default_factory=ContextReport)
    answers: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def routing_accuracy(self) -> float | None:
        return sum(r.right for r in self.routed) / len(self.routed) if self.routed else None

    def recall(self, mode: str, depth: int) -> float | None:
        """Share of questions with one of their documents among the first `depth` results."""
        if not self.searched or mode not in self.modes:
            return None
        hits = sum(_found(s.expected, s.found[mode][:depth]) for s in self.searched)
        return hits / len(self.searched)

    def confusion(self) -> dict[str, Counter[str]]:
        """Expected flow -> how often each flow was chosen for it (MAIN_ALONE for none)."""
        table: dict[str, Counter[str]] = {}
        for r in self.routed:
            for expected in r.expected or [MAIN_ALONE]:
                row = table.setdefault(expected, Counter())
                for chosen in r.chosen or [MAIN_ALONE]:
                    row[chosen] += 1
        return table

    def suggested_examples(self) -> dict[str, list[str]]:
        """Per flow, the misrouted messages that should have reached it (`main`: those that
        needed no optional flow but got one), to paste into the flow's `examples`."""
        suggested: dict[str, list[str]] = {}
        for r in self.routed:
            if r.right:
                continue
            missed = [f for f in r.expected if f not in r.chosen] if r.expected else ["main"]
            for flow in missed:  # none when it got its flows and one more: nothing to paste
                messages = suggested.setdefault(flow, [])
                if r.message not in messages:
                    messages.append(r.message)
        return dict(sorted(suggested.items(), key=lambda item: (item[0] != "main", item[0])))

    def missed(self, mode: str, depth: int = 5) -> list[Searched]:
        return [s for s in self.searched if not _found(s.expected, s.found[mode][:depth])]

    def as_dict(self) -> dict[str, Any]:
        latencies = sorted(r.ms for r in self.routed)
        return {
            "bot": self.bot,
            "routing": {
                "messages": len(self.routed),
                "accuracy": self.routing_accuracy,
                "p50_ms": latencies[len(latencies) // 2] if latencies else None,
                "confusion": {k: dict(v) for k, v in self.confusion().items()},
                "misrouted": [
                    {"message": r.message, "expected": r.expected, "chosen": r.chosen}
                    for r in self.routed
                    if not r.right
                ],
                "suggested_examples": self.suggested_examples(),
            },
            "retrieval": {
                "questions": len(self.searched),
                "recall": {
                    mode: {f"@{d}": self.recall(mode, d) for d in DEPTHS} for mode in self.modes
                },
                "missed": {
                    mode: [
                        {"message": s.message, "expected": s.expected, "found": s.found[mode]}
                        for s in self.missed(mode)
                    ]
                    for mode in self.modes
                },
            },
            "context": self.context.as_dict(),
            "answers": self.answers,
            "notes": self.notes,
        }


def load_labelled(path: Path) -> list[Labelled]:
    """Every line of a labelled JSONL file; EvalFileInvalid names the first bad line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileInvalid(f"cannot read {path}: {exc.strerror}") from exc
    found: list[Labelled] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileInvalid(f"{path}:{number} is not JSON: {exc.msg}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            raise EvalFileInvalid(f'{path}:{number} has no "message" text')
        for key in ("flows", "documents", "facts"):
            value = item.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise EvalFileInvalid(f'{path}:{number}: "{key}" must be a list of strings')
        if not isinstance(item.get("kind", ""), str):
            raise EvalFileInvalid(f'{path}:{number}: "kind" must be a string')
        found.append(
            Labelled(
                item["message"],
                item.get("flows"),
                item.get("documents"),
                item.get("reference"),
                item.get("facts"),
                item.get("kind"),
            )
        )
    if not found:
        raise EvalFileInvalid(f"{path} has no labelled questions")
    return found


async def evaluate_routing(
    router: Router, bot: BotConfig, version: int, items: Sequence[Labelled]
) -> list[Routed]:
    """Route every labelled message as the bot would (its strategy and settings)."""
    known = [*bot.optional_flows, *([HANDOFF_FLOW] if learns_handoff(bot) else [])]
    unknown = {f for item in items for f in item.flows or []} - set(known)
    if unknown:
        raise EvalFileInvalid(
            f"the file names flows that bot '{bot.id}' does not have: {', '.join(sorted(unknown))}",
            hint=f"Optional flows of {bot.id}: {', '.join(known) or 'none'}.",
        )
    await router.prepare(bot, version)
    routed = []
    for item in items:
        if item.flows is None:
            continue
        decision = await router.route(bot, version, item.message)
        if decision.error is not None:
            raise decision.error
        # A request for a person is labelled `flows: ["handoff"]` (the learnt flow).
        chosen = [HANDOFF_FLOW] if decision.asks_person else decision.flows
        routed.append(Routed(item.message, item.flows, chosen, decision.scores, decision.ms))
    return routed


async def evaluate_search(
    knowledge: KnowledgeService, items: Sequence[Labelled], modes: Sequence[SearchMode]
) -> list[Searched]:
    """The documents of the first five results per mode for each question with documents."""
    searched = []
    for item in items:
        if not item.documents:
            continue
        found: dict[str, list[str]] = {}
        for mode in modes:
            results = await knowledge.search(item.message, mode=mode, top_k=max(DEPTHS))
            found[mode] = [r.document for r in results]
        searched.append(Searched(item.message, item.documents, found))
    return searched


AnswerFor = Callable[[str], Awaitable[str]]


async def collect_answers(items: Sequence[Labelled], answer_for: AnswerFor) -> list[dict[str, str]]:
    answers = []
    for item in items:
        started = time.perf_counter()
        text = await answer_for(item.message)
        answers.append(
            {
                "message": item.message,
                "answer": text,
                "reference": item.reference or "",
                "seconds": f"{time.perf_counter() - started:.1f}",
            }
        )
    return answers


def _found(expected: Sequence[str], documents: Sequence[str]) -> bool:
    """A result counts when its source is an expected document, by path or by file name."""
    wanted = {e for e in expected} | {PurePosixPath(e).name for e in expected}
    return any(d in wanted or PurePosixPath(d).name in wanted for d in documents)
