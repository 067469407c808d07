"""Tickets: when nobody can answer live (outside the opening hours, or nobody claimed the
conversation within `handoff.claim_timeout_minutes`), the visitor is offered a form to leave
an email address, with consent; the ticket keeps both. A waiting conversation is never dropped:
the offer is an event in its log, and it stays in the operators' queue until someone claims it
or the visitor leaves an email.

The offer for a conversation nobody claimed is made by every worker's background job; one
conditional UPDATE per conversation makes exactly one of them write it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.service import get_bot
from chinwag.config.bot import BotConfig
from chinwag.conversations.models import ChatSession, Handoff, Ticket
from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError, HandoffNotWaiting
from chinwag.handoff.events import TicketCreated, TicketOffered
from chinwag.handoff.service import append_event, request_person
from chinwag.handoff.wakeup import LOOK_SECONDS, Wakeup
from chinwag.streams.events import LogEntry
from chinwag.streams.fanout import RedisFanout
from chinwag.timestamps import as_utc

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0  # the pause after a failed sweep
SWEEP_BATCH = 100
LISTED = 200

OFFER = {
    "after_hours": {
        "en": "Nobody from {name} is available right now. Leave your email address and we'll "
        "write back as soon as we're in.",
        "nb": "Ingen fra {name} er tilgjengelig akkurat nå. Skriv e-postadressen din, så "
        "svarer vi så snart vi er på plass.",
    },
    "no_one_claimed": {
        "en": "Sorry, nobody from {name} could join yet. Leave your email address and we'll "
        "write back; you can also keep waiting here.",
        "nb": "Beklager, ingen fra {name} har kunnet bli med ennå. Skriv e-postadressen din, så "
        "svarer vi; du kan også vente her.",
    },
}
CONSENT = {
    "en": "I agree that {name} keeps my email address and this conversation to answer me.",
    "nb": "Jeg godtar at {name} lagrer e-postadressen min og denne samtalen for å svare meg.",
}
CREATED = {
    "en": "Thanks! {name} will write to {email}.",
    "nb": "Takk! {name} skriver til {email}.",
}


def consent_texts(bot: BotConfig) -> dict[str, str]:
    own: dict[str, str] = {str(k): v for k, v in bot.handoff.ticket_consent.items()}
    return {
        lang: (own.get(lang) or text).replace("{name}", bot.name) for lang, text in CONSENT.items()
    }


async def offer(
    conn: AsyncConnection, *, session_pk: str, bot: BotConfig, reason: str, now: datetime
) -> LogEntry | None:
    """Offer the ticket form in a waiting conversation (once); its event, or None."""
    moved = await conn.execute(
        update(Handoff)
        .where(
            Handoff.session_id == session_pk,
            Handoff.state == "waiting",
            Handoff.ticket_offered_at.is_(None),
        )
        .values(ticket_offered_at=now, ticket_reason=reason)
        .returning(Handoff.session_id)
    )
    if moved.first() is None:
        return None
    texts = {lang: t.replace("{name}", bot.name) for lang, t in OFFER[reason].items()}
    event = TicketOffered(
        reason="after_hours" if reason == "after_hours" else "no_one_claimed",
        text=texts,
        consent=consent_texts(bot),
    )
    return await append_event(conn, session_pk, event, now)


async def ask_for_person(
    conn: AsyncConnection,
    *,
    bot: BotConfig,
    session_pk: str,
    by: str,
    within_hours: bool,
    now: datetime,
) -> tuple[str, list[LogEntry]]:
    """Put the session in the queue (its webhook notice in the outbox); outside the opening
    hours, offer the ticket form at once: (state, events to publish)."""
    state, event = await request_person(
        conn,
        session_pk=session_pk,
        bot_id=bot.id,
        by=by,
        within_hours=within_hours,
        now=now,
        webhook=bot.handoff.webhook,
        email=bot.handoff.email,
    )
    if event is None:
        return state, []
    events = [event]
    if not within_hours:
        offered = await offer(conn, session_pk=session_pk, bot=bot, reason="after_hours", now=now)
        events += [offered] if offered is not None else []
    return state, events


async def create_ticket(
    conn: AsyncConnection,
    *,
    session: RowMapping,
    bot: BotConfig,
    email: str,
    language: str,
    now: datetime,
) -> tuple[str, LogEntry]:
    """Keep the visitor's email with the consent they gave; close the handoff (the shop
    answers by email). 409 `handoff_not_waiting` unless the conversation waits for a person."""
    row = (
        await conn.execute(
            select(Handoff.state, Handoff.ticket_reason)
            .where(Handoff.session_id == session["id"])
            .with_for_update()
        )
    ).first()
    if row is None or row.state != "waiting":
        raise HandoffNotWaiting(
            f"the conversation is not waiting for a person (it is {row.state if row else 'bot'})",
            hint="Ask for a person first; an operator who has the conversation answers here.",
        )
    ticket_id = new_id()
    # Asked for without an offer (a form of your own site): as nobody could answer live.
    reason = row.ticket_reason or "no_one_claimed"
    consent = consent_texts(bot).get(language) or consent_texts(bot)["en"]
    await conn.execute(
        insert(Ticket).values(
            id=ticket_id,
            bot_id=bot.id,
            session_id=session["id"],
            email=email,
            consent_text=consent,
            reason=reason,
            created_at=now,
        )
    )
    await conn.execute(
        update(Handoff)
        .where(Handoff.session_id == session["id"])
        .values(state="closed", updated_at=now)
    )
    texts = {
        lang: t.replace("{name}", bot.name).replace("{email}", email) for lang, t in CREATED.items()
    }
    event = TicketCreated(ticket_id=ticket_id, text=texts)
    return ticket_id, await append_event(conn, session["id"], event, now)


async def list_tickets(conn: AsyncConnection, bot_id: str) -> list[dict[str, object]]:
    rows = await conn.execute(
        select(Ticket, ChatSession.external_id.label("session_external_id"))
        .join(ChatSession, ChatSession.id == Ticket.session_id)
        .where(Ticket.bot_id == bot_id)
        .order_by(Ticket.created_at.desc(), Ticket.id)
        .limit(LISTED)
    )
    return [
        {
            "id": r.id,
            "session_id": r.session_external_id,
            "email": r.email,
            "consent_text": r.consent_text,
            "reason": r.reason,
            "created_at": r.created_at,
        }
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class Sweep:
    """What one sweep did: the offers written (by this worker), and when the next is due."""

    offered: list[tuple[str, LogEntry]]
    next_due: datetime | None


async def offer_unclaimed(db: Database, now: datetime) -> Sweep:
    """Offer the ticket form in every conversation that has waited longer than its bot's
    `claim_timeout_minutes`. One read finds them; only a due one takes a write."""
    bots: dict[str, BotConfig] = {}
    due: list[tuple[str, BotConfig]] = []
    later: list[datetime] = []
    async with db.read() as conn:
        waiting = (
            await conn.execute(
                select(Handoff.session_id, Handoff.bot_id, Handoff.requested_at)
                .where(Handoff.state == "waiting", Handoff.ticket_offered_at.is_(None))
                .order_by(Handoff.requested_at)
                .limit(SWEEP_BATCH)
            )
        ).all()
        for session_pk, bot_id, requested_at in waiting:
            if bot_id not in bots:
                bots[bot_id] = (await get_bot(conn, bot_id)).config
            minutes = bots[bot_id].handoff.claim_timeout_minutes
            if minutes is None or requested_at is None:
                continue
            at = as_utc(requested_at) + timedelta(minutes=minutes)
            if at <= now:
                due.append((session_pk, bots[bot_id]))
            else:
                later.append(at)
    offered = []
    for session_pk, bot in due:
        async with db.write() as conn:
            event = await offer(
                conn, session_pk=session_pk, bot=bot, reason="no_one_claimed", now=now
            )
        if event is not None:
            offered.append((session_pk, event))
    return Sweep(offered, min(later, default=None))


async def offer_forever(db: Database, fanout: RedisFanout | None) -> None:
    """Every worker's job: offer tickets where nobody claimed in time. It sleeps until the
    next claim timeout is due or a conversation starts waiting here (handoff/wakeup.py), and
    looks at least every LOOK_SECONDS for conversations another worker queued."""
    from chinwag.handoff.follow import publish

    wakeup = Wakeup()
    try:
        while True:
            wait = SWEEP_SECONDS
            try:
                sweep = await offer_unclaimed(db, utcnow())
                for session_pk, event in sweep.offered:
                    await publish(fanout, session_pk, [event])
                due = sweep.next_due
                wait = LOOK_SECONDS if due is None else (due - utcnow()).total_seconds()
            except ChinwagError as exc:  # the database is away; look again later
                log.warning("ticket offers: %s (%s)", exc.message, exc.code)
            except Exception:
                log.exception("ticket offers failed")
            await wakeup.nap(max(wait, SWEEP_SECONDS / 10))
    finally:
        wakeup.close()
