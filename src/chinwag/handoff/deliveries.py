"""The handoff webhook's outbox: a delivery is written in the transaction that puts the
conversation in the queue, then sent by whichever worker claims it first, retried with
backoff, and its outcome kept. A worker that dies mid-send leaves a delivery another one takes
up when its lease runs out (the receiver may see it twice: `X-Chinwag-Delivery` tells)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from chinwag.bots.service import get_bot
from chinwag.conversations.models import WebhookDelivery
from chinwag.db.base import new_id, utcnow
from chinwag.db.uow import Database
from chinwag.errors import ChinwagError, WebhookError
from chinwag.handoff.email import MAILTO, EmailSender
from chinwag.handoff.wakeup import LOOK_SECONDS, Wakeup
from chinwag.handoff.webhook import TIMEOUT_SECONDS, WebhookSender
from chinwag.timestamps import as_utc

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6  # the first and five retries: with 10 s, the last comes about 5 min later
LEASE = timedelta(seconds=TIMEOUT_SECONDS * 4)  # a claimed delivery is another's after this
BATCH = 20
LISTED = 100


async def enqueue(
    conn: AsyncConnection,
    *,
    url: str,
    bot_id: str,
    session_id: str,
    requested_by: str,
    within_hours: bool,
    now: datetime,
) -> str:
    """Write the `handoff.waiting` notice of a session (its external id) to the outbox, for
    the webhook's `url` or the `mailto:` addresses of its email."""
    delivery_id = new_id()
    body = {
        "type": "handoff.waiting",
        "delivery_id": delivery_id,
        "bot_id": bot_id,
        "session_id": session_id,
        "requested_by": requested_by,
        "within_hours": within_hours,
        "requested_at": now.isoformat().replace("+00:00", "Z"),
        "console_path": f"/admin/inbox/{bot_id}/{session_id}",
    }
    await conn.execute(
        insert(WebhookDelivery).values(
            id=delivery_id,
            bot_id=bot_id,
            event="handoff.waiting",
            session_id=session_id,
            url=url,
            body=orjson.dumps(body).decode(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return delivery_id


async def next_due(db: Database) -> datetime | None:
    """When the earliest pending delivery is due (None: nothing is pending)."""
    async with db.read() as conn:
        found = await conn.execute(
            select(func.min(WebhookDelivery.next_attempt_at)).where(
                WebhookDelivery.status == "pending"
            )
        )
        earliest = found.scalar_one_or_none()
    return as_utc(earliest) if earliest is not None else None


async def _claim(db: Database, now: datetime) -> list[tuple[str, str, str, str, int]]:
    """Due deliveries this worker takes (one conditional UPDATE each: one worker wins):
    [(id, bot_id, url, body, attempt number)]."""
    async with db.read() as conn:
        due = (
            await conn.execute(
                select(WebhookDelivery.id, WebhookDelivery.attempts)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(BATCH)
            )
        ).all()
    taken = []
    for delivery_id, seen in due:
        async with db.write() as conn:
            won = await conn.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.attempts == seen,
                    WebhookDelivery.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + LEASE, attempts=WebhookDelivery.attempts + 1)
                .returning(
                    WebhookDelivery.bot_id,
                    WebhookDelivery.url,
                    WebhookDelivery.body,
                    WebhookDelivery.attempts,
                )
            )
            row = won.first()
        if row is not None:
            taken.append((delivery_id, row.bot_id, row.url, row.body, row.attempts))
    return taken


async def deliver_due(
    db: Database, sender: WebhookSender, *, retry_seconds: float, mailer: EmailSender | None = None
) -> int:
    """Send what is due now (webhooks with `sender`, emails with `mailer`); returns how many
    were attempted."""
    now = utcnow()
    taken = await _claim(db, now)
    for delivery_id, bot_id, url, body, attempt in taken:
        values: dict[str, object]
        try:
            async with db.read() as conn:
                bot = (await get_bot(conn, bot_id)).config
            if url.startswith(MAILTO):
                await (mailer or EmailSender(None, "")).send(bot.name, url, orjson.loads(body))
                http_status = None
            else:
                hook = bot.handoff.webhook
                if hook is None:
                    raise WebhookError("the bot's handoff.webhook was removed before it was sent")
                sent = await sender.send(
                    bot, hook, delivery_id=delivery_id, body=body.encode(), now=int(now.timestamp())
                )
                http_status = sent.http_status
            values = {"status": "delivered", "delivered_at": utcnow(), "last_error": None}
            values |= {"last_http_status": http_status, "last_detail": None}
        except WebhookError as exc:
            again = exc.transient and attempt < MAX_ATTEMPTS
            pause = timedelta(seconds=retry_seconds * 2 ** (attempt - 1))
            values = {
                "status": "pending" if again else "failed",
                "next_attempt_at": utcnow() + pause if again else utcnow(),
                "last_error": exc.code,
                "last_detail": exc.message[:500],
                "last_http_status": exc.extra.get("http_status"),
            }
            log.warning(
                "delivery %s of bot %s: %s (%s)", delivery_id, bot_id, exc.message, exc.code
            )
        async with db.write() as conn:
            await conn.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
            )
    return len(taken)


async def deliver_forever(
    db: Database, sender: WebhookSender, *, retry_seconds: float, mailer: EmailSender | None = None
) -> None:
    """The background job of every worker: send what is due, then sleep until the next
    delivery is due or a conversation starts waiting here (handoff/wakeup.py), looking at
    least every LOOK_SECONDS for what another worker left."""
    pause = min(1.0, max(retry_seconds / 2, 0.05))
    wakeup = Wakeup()
    try:
        while True:
            try:
                if await deliver_due(db, sender, retry_seconds=retry_seconds, mailer=mailer):
                    continue
                due = await next_due(db)
                wait = LOOK_SECONDS if due is None else (due - utcnow()).total_seconds()
                await wakeup.nap(wait)
            except ChinwagError as exc:  # the database is away; look again later
                log.warning("webhook deliveries: %s (%s)", exc.message, exc.code)
                await asyncio.sleep(pause)
            except Exception:  # never let one bad row stop the job; its lease runs out
                log.exception("webhook deliveries failed")
                await asyncio.sleep(pause)
    finally:
        wakeup.close()


async def list_deliveries(conn: AsyncConnection, bot_id: str) -> list[dict[str, object]]:
    """The bot's latest deliveries, newest first (the body, never the secret)."""
    rows = await conn.execute(
        select(WebhookDelivery)
        .where(WebhookDelivery.bot_id == bot_id)
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(LISTED)
    )
    return [
        {
            "id": r.id,
            "event": r.event,
            "session_id": r.session_id,
            "url": r.url,
            "status": r.status,
            "attempts": r.attempts,
            "last_http_status": r.last_http_status,
            "last_error": r.last_error,
            "last_detail": r.last_detail,
            "created_at": as_utc(r.created_at),
            "next_attempt_at": as_utc(r.next_attempt_at) if r.status == "pending" else None,
            "delivered_at": as_utc(r.delivered_at) if r.delivered_at else None,
            "body": orjson.loads(r.body),
        }
        for r in rows
    ]
