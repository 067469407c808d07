"""Correcting the router from an answer: the owner says which optional flows the visitor's
message should have had, and the message joins those flows' examples (or `main`'s, for none)
in a new, active bot version; and the review queue of answers whose route was a close call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from chinwag.bots.models import BotVersion as BotVersionRow
from chinwag.bots.service import BotVersion, get_bot
from chinwag.config.bot import BotConfig, RouterConfig
from chinwag.console.corrections import corrected_answer, locked_bot, save_version, version_note
from chinwag.conversations.models import ChatSession, EndUser, Message
from chinwag.db.uow import Database
from chinwag.engine.router import threshold_of
from chinwag.errors import (
    MessageNotRouted,
    RouterNotSemantic,
    RouteUnchanged,
    UnknownFlow,
)
from chinwag.timestamps import as_utc

# A flow's score this close to its threshold makes a route uncertain (the router's own default).
UNCERTAIN_MARGIN = RouterConfig.model_fields["uncertain_margin"].default
RECENT_ANSWERS = 1000  # the review queue looks at the bot's newest routed answers only


@dataclass(frozen=True, slots=True)
class RouteFix:
    """The new active version whose flows' examples route `message` to `flows`."""

    saved: BotVersion
    previous_version: int
    message: str
    flows: list[str]  # the optional flows; [] is `main` alone


async def fix_route(db: Database, *, bot_id: str, message_id: str, flows: list[str]) -> RouteFix:
    """Add the visitor's message that the answer `message_id` replied to to the examples of
    `flows` (of `main` when empty), take it out of every other flow's examples, and save the
    result, validated, as a new active version, in one write transaction with the bot's row
    locked."""
    async with db.write() as conn:
        version, current = await locked_bot(conn, bot_id)
        message = await routed_question(conn, bot_id=bot_id, message_id=message_id)
        if current.router.strategy != "semantic":
            raise RouterNotSemantic(
                f"bot '{bot_id}' routes with the `{current.router.strategy}` router, which does "
                "not learn from examples"
            )
        chosen = wanted_flows(current, flows)
        changed = with_route(current, message, chosen)
        if changed == current:
            raise RouteUnchanged(
                f"version {version} of bot '{bot_id}' already has this message in the "
                f"examples of {', '.join(chosen) or 'main'} only"
            )
        note = version_note("route fix", message, ", ".join(chosen) or "main alone")
        saved = await save_version(conn, changed, note)
    return RouteFix(saved, version, message, chosen)


def wanted_flows(config: BotConfig, flows: list[str]) -> list[str]:
    """The optional flows asked for, in the bot's order (`main` alone: []); UnknownFlow for a
    name the bot has no optional flow of."""
    optional = list(config.optional_flows)
    unknown = sorted({f for f in flows if f not in optional and f != "main"})
    if unknown:
        raise UnknownFlow(
            f"bot '{config.id}' has no optional flow {', '.join(repr(f) for f in unknown)}",
            hint=f"The bot's optional flows: {', '.join(optional) or '(none)'}; "
            "send [] for `main` alone.",
        )
    return [f for f in optional if f in flows]


def with_route(config: BotConfig, message: str, flows: list[str]) -> BotConfig:
    """The configuration whose examples hold `message` for `flows` (`main` when empty) and for
    no other flow; every other example is kept, in its order."""
    owners = set(flows or ["main"])
    updated = {}
    for name, flow in config.flows.items():
        kept = [e for e in flow.examples if e != message]
        examples = [*kept, message] if name in owners else kept
        if examples != flow.examples:
            updated[name] = flow.model_copy(update={"examples": examples})
    if not updated:
        return config
    return config.model_copy(update={"flows": {**config.flows, **updated}})


async def routed_question(conn: AsyncConnection, *, bot_id: str, message_id: str) -> str:
    """The visitor's message that the bot's answer `message_id` was routed for."""
    row = await corrected_answer(
        conn,
        bot_id=bot_id,
        message_id=message_id,
        refusal=MessageNotRouted,
        hint="Send the id of the bot's answer to it.",
    )
    if not (row.route or {}).get("strategy"):
        raise MessageNotRouted(f"the answer '{message_id}' has no route (it was not routed)")
    return str(row.question)


def thresholds(config: BotConfig) -> dict[str, float]:
    """Each optional flow's least probability for the semantic router to choose it."""
    return {name: threshold_of(config, name) for name in config.optional_flows}


def closest_call(scores: dict[str, float], limits: dict[str, float]) -> tuple[str, float] | None:
    """The flow whose score is nearest its threshold and that distance (score - threshold)."""
    gaps = [(name, s - limits[name]) for name, s in scores.items() if name in limits]
    return min(gaps, key=lambda g: abs(g[1])) if gaps else None


async def uncertain_routes(
    conn: AsyncConnection, *, bot_id: str, margin: float = UNCERTAIN_MARGIN, limit: int = 50
) -> list[dict[str, Any]]:
    """The bot's recent answers (its newest RECENT_ANSWERS routed ones) that the semantic router
    routed with some flow's score within `margin` of that flow's threshold (the thresholds of the
    version that answered), newest first."""
    active = await get_bot(conn, bot_id)
    question = aliased(Message)
    rows = (
        await conn.execute(
            select(
                Message.id,
                Message.route,
                Message.bot_version,
                Message.created_at,
                question.content.label("question"),
                ChatSession.external_id.label("session_id"),
                EndUser.external_id.label("user_id"),
            )
            .join(ChatSession, ChatSession.id == Message.session_id)
            .join(EndUser, EndUser.id == ChatSession.user_id)
            .join(question, question.id == Message.reply_to_id)
            .where(
                ChatSession.bot_id == bot_id,
                Message.role == "assistant",
                Message.route.is_not(None),
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(RECENT_ANSWERS)
        )
    ).all()
    versions = {r.bot_version for r in rows if r.bot_version is not None}
    limits = {active.version: thresholds(active.config)}
    for v in await conn.execute(
        select(BotVersionRow.version, BotVersionRow.config).where(
            BotVersionRow.bot_id == bot_id, BotVersionRow.version.in_(versions - set(limits))
        )
    ):
        limits[v.version] = thresholds(BotConfig.model_validate(v.config))
    examples = {name: set(flow.examples) for name, flow in active.config.flows.items()}
    found: list[dict[str, Any]] = []
    for r in rows:
        route = r.route or {}
        if route.get("strategy") != "semantic" or route.get("error"):
            continue
        scores = route.get("scores") or {}
        version_limits = limits.get(r.bot_version or active.version, limits[active.version])
        closest = closest_call(scores, version_limits)
        if closest is None or abs(closest[1]) >= margin:
            continue
        found.append(
            {
                "message_id": r.id,
                "session_id": r.session_id,
                "user_id": r.user_id,
                "bot_version": r.bot_version,
                "created_at": as_utc(r.created_at),
                "question": r.question,
                "flows": route.get("flows") or [],
                "scores": scores,
                "thresholds": {n: version_limits[n] for n in scores if n in version_limits},
                "closest": {"flow": closest[0], "margin": round(closest[1], 4)},
                "examples_of": [n for n, texts in examples.items() if r.question in texts],
            }
        )
        if len(found) >= limit:
            break
    return found
