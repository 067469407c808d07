"""A month of plausible conversations with the demo bot, for a console worth looking at.

`chinwag demo --seed-history` writes them once: visitors asking Vinhuset about wines, food,
opening hours and delivery in English and Norwegian, answers with their sources, routes and
timings, some ratings and comments, and a few declines, spread over the last 30 days the way
a small shop's chat is used (busier on Fridays and Saturdays, quiet on Sundays). The same
seed gives the same month. Rows are written in their foreign keys' order, as the server
writes them, so `chinwag doctor` finds nothing wrong.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import yaml
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.demo import demo_bot_path
from chinwag.conversations.models import ChatSession, EndUser, Feedback, FlowRun, Message
from chinwag.db.base import new_id, utcnow

SESSION_PREFIX = "demo-history-"
DAYS = 30


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str
    flows: tuple[str, ...] = ()
    sources: tuple[tuple[str, str, str], ...] = ()  # (document, title, snippet)
    declined: str | None = None  # out_of_scope | unanswerable
    rating: int = 0  # -1, 0 or 1 (most visitors do not rate)
    comment: str | None = None


@dataclass(frozen=True)
class Script:
    language: str
    turns: tuple[Turn, ...] = field(default_factory=tuple)


def _turn(raw: dict[str, Any]) -> Turn:
    return Turn(
        question=raw["question"],
        answer=raw["answer"],
        flows=tuple(raw.get("flows", ())),
        sources=tuple((s["document"], s["title"], s["snippet"]) for s in raw.get("sources", ())),
        declined=raw.get("declined"),
        rating=raw.get("rating", 0),
        comment=raw.get("comment"),
    )


def load_scripts() -> tuple[tuple[Script, ...], tuple[tuple[str | None, str | None], ...]]:
    """The conversations and the named visitors of bots/demo/history.yaml."""
    raw = yaml.safe_load((demo_bot_path().parent / "history.yaml").read_text("utf-8"))
    scripts = tuple(
        Script(s["language"], tuple(_turn(t) for t in s["turns"])) for s in raw["scripts"]
    )
    people = tuple((p["display_name"], p["email"]) for p in raw["people"])
    return scripts, people


# Every column of a message row (one INSERT of many rows needs the same keys in each).
BLANK: dict[str, Any] = {
    "reply_to_id": None,
    "usage": None,
    "route": None,
    "citations": None,
    "ttft_ms": None,
    "declined": None,
    "error_code": None,
}
# How often each script is picked: a decline is rarer than an everyday question.
DECLINE_WEIGHT, ANSWER_WEIGHT = 1, 3
FLOW_MS = {"main": (900.0, 2600.0), "statistics": (35.0, 120.0), "smalltalk": (700.0, 1400.0)}
OPTIONAL = ("statistics", "smalltalk")


async def has_history(conn: AsyncConnection, bot_id: str) -> bool:
    found = await conn.execute(
        select(func.count())
        .select_from(ChatSession)
        .where(ChatSession.bot_id == bot_id, ChatSession.external_id.like(f"{SESSION_PREFIX}%"))
    )
    return bool(found.scalar())


def _visits(rng: random.Random, day: datetime) -> int:
    """Conversations on a day: a handful, more before the weekend, few on Sundays."""
    base = {4: 12, 5: 14, 6: 3}.get(day.weekday(), 8)
    return max(1, base + rng.randint(-3, 3))


def _route(rng: random.Random, flows: tuple[str, ...]) -> dict[str, Any]:
    """A semantic route: the chosen flows scored over the threshold (0.4), others under; a
    few scores near it (the console's uncertain routes)."""
    scores = {}
    for flow in OPTIONAL:
        if flow in flows:
            scores[flow] = round(rng.uniform(0.45, 0.92), 3)
        else:
            scores[flow] = round(rng.uniform(0.02, 0.36), 3)
    return {
        "strategy": "semantic",
        "flows": list(flows),
        "scores": scores,
        "ms": round(rng.uniform(6, 22), 1),
    }


async def seed_history(
    conn: AsyncConnection, *, bot_id: str, bot_version: int, seed: int = 34
) -> int:
    """Write DAYS days of conversations ending now; returns how many. Runs once per bot."""
    if await has_history(conn, bot_id):
        return 0
    scripts, people = load_scripts()
    weights = [
        DECLINE_WEIGHT if any(t.declined for t in s.turns) else ANSWER_WEIGHT for s in scripts
    ]
    rng = random.Random(seed)
    now = utcnow()
    start = (now - timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    users: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    known: dict[int, str] = {}  # a returning named visitor's end-user id
    for d in range(DAYS):
        day = start + timedelta(days=d)
        for _ in range(_visits(rng, day)):
            at = day + timedelta(hours=rng.uniform(8, 22.5))
            if at > now - timedelta(minutes=5):
                continue
            script = rng.choices(scripts, weights=weights)[0]
            who = rng.randrange(len(people) * 3)  # a third named (signed-in), most anonymous
            if who < len(people) and who in known:
                user = known[who]
            else:
                user = new_id()
                name, email = people[who] if who < len(people) else (None, None)
                external = (
                    f"{1000 + who * 37}"
                    if who < len(people)
                    else f"anon-{new_id().replace('-', '')}"
                )
                users.append(
                    {
                        "id": user,
                        "bot_id": bot_id,
                        "external_id": external,
                        "display_name": name,
                        "email": email,
                        "created_at": at,
                    }
                )
                if who < len(people):
                    known[who] = user
            session = new_id()
            turns = script.turns[: rng.choice((1, len(script.turns)))]
            sessions.append(
                {
                    "id": session,
                    "bot_id": bot_id,
                    "user_id": user,
                    "external_id": f"{SESSION_PREFIX}{len(sessions):04d}",
                    "message_count": 2 * len(turns),
                    "created_at": at,
                    "last_message_at": at,
                }
            )
            for i, turn in enumerate(turns):
                asked = at + timedelta(seconds=40 * i + rng.uniform(0, 25))
                question, answer = new_id(), new_id()
                ttft = rng.uniform(350, 900) if turn.declined is None else rng.uniform(15, 60)
                total = ttft + (rng.uniform(900, 3200) if turn.declined is None else 5)
                prompt, completion = rng.randint(700, 1900), len(turn.answer) // 4
                usage = (
                    None
                    if turn.declined
                    else {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                    }
                )
                route = (
                    _route(rng, turn.flows)
                    if turn.declined is None
                    else {
                        "declined": {
                            "reason": turn.declined,
                            "scores": {"out_of_scope": round(rng.uniform(0.7, 0.97), 2)}
                            if turn.declined == "out_of_scope"
                            else {
                                "out_of_scope": round(rng.uniform(0.1, 0.3), 2),
                                "support": round(rng.uniform(0.05, 0.2), 2),
                            },
                        }
                    }
                )
                messages.append(
                    {
                        **BLANK,
                        "id": question,
                        "session_id": session,
                        "position": 2 * i + 1,
                        "role": "user",
                        "content": turn.question,
                        "status": "complete",
                        "bot_version": bot_version,
                        "created_at": asked,
                        "finished_at": asked,
                    }
                )
                messages.append(
                    {
                        **BLANK,
                        "id": answer,
                        "session_id": session,
                        "position": 2 * i + 2,
                        "role": "assistant",
                        "content": turn.answer,
                        "status": "complete",
                        "reply_to_id": question,
                        "bot_version": bot_version,
                        "usage": usage,
                        "route": route,
                        "citations": [
                            {
                                "document": doc,
                                "title": title,
                                "score": round(rng.uniform(0.55, 0.9), 3),
                                "snippet": snippet,
                            }
                            for doc, title, snippet in turn.sources
                        ]
                        or None,
                        "ttft_ms": round(ttft, 1),
                        "declined": turn.declined,
                        "created_at": asked,
                        "finished_at": asked + timedelta(milliseconds=total),
                    }
                )
                if turn.declined is None:
                    for flow in ("main", *turn.flows):
                        low, high = FLOW_MS[flow]
                        runs.append(
                            {
                                "message_id": answer,
                                "bot_id": bot_id,
                                "flow": flow,
                                "status": "completed",
                                "score": route["scores"].get(flow),
                                "ms": round(rng.uniform(low, high), 1),
                                "usage": usage if flow == "main" else None,
                                "error_code": None,
                                "created_at": asked,
                            }
                        )
                # Most visitors never rate; an unhappy one is likelier to say so.
                rated = turn.rating if rng.random() < (0.45 if turn.rating > 0 else 0.6) else 0
                if rated:
                    when = asked + timedelta(seconds=rng.uniform(20, 90))
                    ratings.append(
                        {
                            "id": new_id(),
                            "message_id": answer,
                            "user_id": user,
                            "rating": rated,
                            "comment": turn.comment if rated < 0 else None,
                            "created_at": when,
                            "updated_at": when,
                        }
                    )
                sessions[-1]["last_message_at"] = asked + timedelta(milliseconds=total)
    for table, rows in (
        (EndUser, users),
        (ChatSession, sessions),
        (Message, messages),
        (FlowRun, runs),
        (Feedback, ratings),
    ):
        for i in range(0, len(rows), 500):
            await conn.execute(insert(table), rows[i : i + 500])
    return len(sessions)
