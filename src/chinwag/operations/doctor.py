"""`chinwag doctor`: is the database reachable, its schema current, and its log whole?

Every integrity query counts rows that must not exist; a healthy database answers 0 to all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from chinwag.db import migrate
from chinwag.db.uow import Database
from chinwag.generations.workers import dead_workers, orphaned_streams, stale_before

INTEGRITY_QUERIES: dict[str, str] = {
    "messages without session": """
        SELECT count(*) FROM messages m
        LEFT JOIN chat_sessions s ON s.id = m.session_id WHERE s.id IS NULL""",
    "sessions without user": """
        SELECT count(*) FROM chat_sessions s
        LEFT JOIN end_users u ON u.id = s.user_id AND u.bot_id = s.bot_id WHERE u.id IS NULL""",
    "users without bot": """
        SELECT count(*) FROM end_users u LEFT JOIN bots b ON b.id = u.bot_id WHERE b.id IS NULL""",
    "streams without message": """
        SELECT count(*) FROM streams st
        LEFT JOIN messages m ON m.id = st.message_id WHERE m.id IS NULL""",
    "events without stream": """
        SELECT count(*) FROM stream_events e
        LEFT JOIN streams st ON st.id = e.stream_id WHERE st.id IS NULL""",
    # Finished answers may outlive their stream (retention deletes finished streams; history
    # seeded through /v1/chat/completions never had one); an answer being written may not.
    "answers being written without stream": """
        SELECT count(*) FROM messages m LEFT JOIN streams st ON st.message_id = m.id
        WHERE m.role = 'assistant' AND m.status = 'streaming' AND st.id IS NULL""",
    "finished streams with missing or duplicate seq": """
        SELECT count(*) FROM streams st
        WHERE st.status <> 'streaming' AND st.events_purged_at IS NULL AND (
          (SELECT count(*) FROM stream_events e WHERE e.stream_id = st.id) <> st.last_seq
          OR (SELECT count(DISTINCT e.seq) FROM stream_events e WHERE e.stream_id = st.id)
             <> st.last_seq
          OR (SELECT coalesce(max(e.seq), 0) FROM stream_events e WHERE e.stream_id = st.id)
             <> st.last_seq)""",
    "finished streams whose log does not end with stream.completed": """
        SELECT count(*) FROM streams st
        WHERE st.status <> 'streaming' AND st.events_purged_at IS NULL AND NOT EXISTS (
          SELECT 1 FROM stream_events e
          WHERE e.stream_id = st.id AND e.seq = st.last_seq AND e.type = 'stream.completed')""",
    "stream and message status disagree": """
        SELECT count(*) FROM streams st JOIN messages m ON m.id = st.message_id
        WHERE (st.status = 'streaming') <> (m.status = 'streaming')
           OR (st.status = 'completed' AND m.status <> 'complete')
           OR (st.status IN ('failed', 'interrupted') AND m.status <> st.status)""",
    "bots whose active version is not saved": """
        SELECT count(*) FROM bots b LEFT JOIN bot_versions v
          ON v.bot_id = b.id AND v.version = b.version WHERE v.bot_id IS NULL""",
    "assistant messages answered by an unknown bot version": """
        SELECT count(*) FROM messages m JOIN chat_sessions s ON s.id = m.session_id
        LEFT JOIN bot_versions v ON v.bot_id = s.bot_id AND v.version = m.bot_version
        WHERE m.role = 'assistant' AND m.bot_version IS NOT NULL AND v.bot_id IS NULL""",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def run_checks(db: Database, *, heartbeat_seconds: float) -> list[Check]:
    """All checks in order; stops after the first if the database cannot be reached."""
    checks: list[Check] = []
    try:
        current = await migrate.current_revision(db)
    except Exception as exc:
        return [Check("database reachable", False, str(exc))]
    checks.append(Check("database reachable", True, db.engine.url.render_as_string()))
    head = migrate.head_revision()
    checks.append(
        Check(
            "schema current",
            current == head,
            f"at {current or 'none'}, newest {head}"
            + ("" if current == head else " — run `chinwag db upgrade`"),
        )
    )
    if current != head:
        return checks
    async with db.read() as conn:
        for name, sql in INTEGRITY_QUERIES.items():
            count = (await conn.execute(text(sql))).scalar_one()
            checks.append(Check(name, count == 0, f"{count} row(s)"))
        dead, gone = await dead_workers(conn, me=None, heartbeat_seconds=heartbeat_seconds)
        orphans = orphaned_streams(dead, heartbeat_seconds=heartbeat_seconds, gone=gone)
        orphan_count = (
            await conn.execute(select(func.count()).select_from(orphans.subquery()))
        ).scalar_one()
        stuck = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM streams st JOIN workers w ON w.id = st.worker_id "
                    "WHERE st.status = 'streaming' AND w.stopped_at IS NULL "
                    "AND w.log_failing_since < :since"
                ),
                {"since": stale_before(heartbeat_seconds)},
            )
        ).scalar_one()
        checks.append(
            Check(
                "streaming rows whose worker has not written for longer than the grace period",
                stuck == 0,
                f"{stuck} row(s)"
                + (
                    ""
                    if stuck == 0
                    else " — their worker's event log has failed to commit for longer than the "
                    "grace period; its /readyz says why (checks.event_log), its log names the "
                    "database error"
                ),
            )
        )
        checks.append(
            Check(
                "streaming rows with no live generation",
                orphan_count == 0,
                f"{orphan_count} row(s)"
                + (
                    ""
                    if orphan_count == 0
                    else " — their worker has stopped or not beaten for longer than the "
                    "grace period; a running server or the next start marks them interrupted"
                ),
            )
        )
    return checks
