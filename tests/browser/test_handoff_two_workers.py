"""The live handoff across two workers, in a real Chromium: a visitor on the widget (embedded in a
shop's page on another origin) and operators signed in to the console's inbox, each on another
worker (two `chinwag serve` processes on two ports sharing PostgreSQL and Redis: the shape of
`serve --workers 2`, whose one port would not let a test choose the worker; see
tests/browser/two_workers.py), with faults: a reload, either worker SIGKILLed, Redis gone, two
claims at once. The workers are started once for the module; each test has a conversation of
its own.

With CHINWAG_SCREENSHOTS=<folder> (e.g. docs), the test that kills the operator's worker writes
docs/handoff-reconnecting.png.

PostgreSQL only: several workers need it (`serve --workers 2` refuses SQLite)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, BrowserContext, expect
from redis import Redis
from sqlalchemy import func, select

from chinwag.bots.service import put_bot
from chinwag.conversations.models import Handoff, SessionEvent
from chinwag.db.uow import Database
from chinwag.handoff.follow import fanout_key
from chinwag.streams.fanout import stream_key
from tests.browser.two_workers import (
    ANSWER,
    GREETING,
    JOINING,
    Deployment,
    Workers,
    asks_for_a_person,
    claims,
    console,
    console_lines,
    is_stored,
    port_of,
    session_of,
    shot,
    started_workers,
    stored,
    waiting,
    widget_lines,
    writes,
)
from tests.browser.widget_pages import Proxy, ask, eventually, finished_answers, open_page
from tests.handoff.conftest import handoff_bot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workers(postgres_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """Started once for the module: two `chinwag serve` take seconds."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server (.ci/run installs it)")
    with started_workers(postgres_template, tmp_path_factory.mktemp("two-workers")) as started:
        yield started


@pytest.fixture
async def deployment(workers: Workers) -> AsyncIterator[Deployment]:
    """The shared workers as a test finds them: both up, Redis up, the bot open."""
    for worker in (workers.visitor_side, workers.operator_side):
        if worker.proc is not None and worker.proc.poll() is not None:
            worker.start()  # killed by an earlier test
            await worker.wait_ready()
    if workers.redis.proc is not None and workers.redis.proc.poll() is not None:
        await asyncio.to_thread(workers.redis.start)  # stopped by an earlier test
    db = Database.from_url(workers.database_url)
    try:
        async with db.write() as conn:
            await put_bot(conn, handoff_bot())
        yield Deployment(**vars(workers), db=db)
    finally:
        await db.dispose()


async def test_a_visitor_and_an_operator_on_two_workers(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    """The whole path, the visitor on worker A and the operator on worker B, with a reload of
    the visitor's page in the middle."""
    question = "Do you have Barolo?"
    operator_context, kari = await console(browser, deployment.operator_side.base_url)
    visitor = await asks_for_a_person(deployment, browser_context, question)
    await claims(kari, question)
    await expect(visitor.locator(".status")).to_have_text("Kari joined the chat")

    await writes(kari, "Hi, Kari here. Which vintage?")
    said = visitor.locator(".msg.bot:has(.who)")
    await expect(said.locator(".bubble")).to_have_text("Hi, Kari here. Which vintage?")
    await expect(said.locator(".who")).to_have_text("Kari")
    await ask(visitor, "2019, please")
    assert (await console_lines(kari, 4))[-1] == ["visitor", "Visitor", "2019, please"]

    await visitor.reload()  # the whole conversation once, in order, from the history
    await visitor.locator(".launcher").click()
    before_reload = [
        ["bot", GREETING],
        ["visitor", question],
        ["bot", ANSWER],
        ["Kari", "Hi, Kari here. Which vintage?"],
        ["visitor", "2019, please"],
    ]
    assert await widget_lines(visitor, 5) == before_reload
    await writes(kari, "Pio Cesare 2019 it is.")  # live again after the reload, once
    await expect(said).to_have_count(2)
    await ask(visitor, "Thanks!")
    assert (await console_lines(kari, 6))[-2:] == [
        ["operator", "Kari", "Pio Cesare 2019 it is."],
        ["visitor", "Visitor", "Thanks!"],
    ]

    await kari.click("#release")
    await expect(kari.locator("#state")).to_have_text("the bot answers")
    await expect(visitor.locator(".status")).to_have_text(
        "You're chatting with the assistant again"
    )
    await ask(visitor, "And Chianti?")
    await finished_answers(visitor, 2)  # the bot answers again
    assert await widget_lines(visitor, 9) == [
        *before_reload,
        ["Kari", "Pio Cesare 2019 it is."],
        ["visitor", "Thanks!"],
        ["visitor", "And Chianti?"],
        ["bot", ANSWER],
    ]
    assert await stored(deployment.db, question) == [
        ("user", None, question),
        ("assistant", None, ANSWER),
        ("assistant", "Kari", "Hi, Kari here. Which vintage?"),
        ("user", None, "2019, please"),
        ("assistant", "Kari", "Pio Cesare 2019 it is."),
        ("user", None, "Thanks!"),
        ("user", None, "And Chianti?"),
        ("assistant", None, ANSWER),
    ]
    await operator_context.close()


async def test_two_operators_claim_at_once_on_two_workers(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    """Kari's console on worker A, Ola's on B, both press Claim at the same moment: one wins;
    the other is told who answers."""
    question = "Do you have Amarone?"
    kari_context, kari = await console(browser, deployment.visitor_side.base_url)
    ola_context, ola = await console(
        browser, deployment.operator_side.base_url, "ola@vinhuset.example"
    )
    visitor = await asks_for_a_person(deployment, browser_context, question)
    for page in (kari, ola):
        await waiting(page, question).click()
        await expect(page.locator("#claim")).to_be_visible()
    # Both clicks at one moment of the browser's clock (one browser, one clock), a second on:
    # long enough for both pages to be told, too short for either to see the other's claim.
    at = await kari.evaluate("Date.now() + 1000")
    for page in (kari, ola):
        await page.evaluate(
            "at => setTimeout(() => document.querySelector('#claim').click(), at - Date.now())",
            at,
        )
    claimed = re.compile(r"claimed by (Kari|Ola)")
    for page in (kari, ola):
        await expect(page.locator("#state")).to_have_text(claimed)
    session = await session_of(deployment.db, question)
    async with deployment.db.read() as conn:
        winner = (
            await conn.execute(select(Handoff.claimed_by_name).where(Handoff.session_id == session))
        ).scalar_one()
        claims_stored = (
            await conn.execute(
                select(func.count())
                .select_from(SessionEvent)
                .where(SessionEvent.session_id == session, SessionEvent.type == "handoff.claimed")
            )
        ).scalar()
    assert claims_stored == 1
    won, lost = (kari, ola) if winner == "Kari" else (ola, kari)
    await expect(won.locator(".composer textarea")).to_be_visible()
    await expect(lost.locator("#state")).to_have_text(f"claimed by {winner}")
    await expect(lost.locator(".hint-line")).to_have_text(f"{winner} is answering.")
    await expect(lost.locator(".composer")).to_have_count(0)
    await expect(lost.get_by_role("alert")).to_contain_text("handoff_not_waiting")  # it did try
    await expect(visitor.locator(".status")).to_have_text(f"{winner} joined the chat")
    await kari_context.close()
    await ola_context.close()


async def test_after_hours_the_visitors_email_reaches_the_console_on_the_other_worker(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    async with deployment.db.write() as conn:  # opening hours that never come
        await put_bot(conn, handoff_bot(hours={"timezone": "Europe/Oslo"}))
    operator_context, kari = await console(browser, deployment.operator_side.base_url)
    await kari.get_by_role("tab", name="Tickets").click()
    visitor = await open_page(browser_context, deployment.shop_page())
    await ask(visitor, "Do you deliver on Sundays?")
    await finished_answers(visitor, 1)
    await visitor.get_by_role("button", name="Talk to a person").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_contain_text("Leave your email")
    form = visitor.locator("form.ticket")
    await form.get_by_role("textbox", name="Your email address").fill("per@example.com")
    await form.get_by_role("checkbox").check()
    await form.get_by_role("button", name="Send").click()
    await expect(visitor.locator(".msg.bot .bubble").last).to_have_text(
        "Thanks! Vinhuset will write to per@example.com."
    )
    ticket = kari.locator("#tickets li", has_text="per@example.com")  # live, from worker A
    await expect(ticket).to_have_count(1)
    await expect(ticket).to_contain_text("after hours")
    await operator_context.close()


async def test_without_redis_messages_go_through_the_database(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    """Redis carries the conversation between the workers until it stops; then each worker's
    followers read the database, and both sides still get every message once, in order."""
    question = "Do you have Brunello?"
    operator_context, kari = await console(browser, deployment.operator_side.base_url)
    visitor = await asks_for_a_person(deployment, browser_context, question)
    await claims(kari, question)
    said = visitor.locator(".msg.bot:has(.who)")
    await writes(kari, "Hi, Kari here. Which vintage?")
    await expect(said).to_have_count(1)
    session = await session_of(deployment.db, question)
    redis = Redis(port=deployment.redis.port)
    try:  # so far the events went through Redis
        assert redis.xlen(stream_key(fanout_key(session))) == 3
    finally:
        redis.close()

    await asyncio.to_thread(deployment.redis.stop)
    await ask(visitor, "2019, please")
    await expect(kari.locator(".conversation .lines .msg").last).to_contain_text("2019")
    await writes(kari, "Pio Cesare 2019 it is.")
    await expect(said).to_have_count(2)
    await ask(visitor, "Thanks!")
    await expect(kari.locator(".conversation .lines .msg").last).to_contain_text("Thanks!")
    await writes(kari, "You're welcome!")
    expected = [
        ["bot", GREETING],
        ["visitor", question],
        ["bot", ANSWER],
        ["bot", JOINING],
        ["Kari", "Hi, Kari here. Which vintage?"],
        ["visitor", "2019, please"],
        ["Kari", "Pio Cesare 2019 it is."],
        ["visitor", "Thanks!"],
        ["Kari", "You're welcome!"],
    ]
    assert await widget_lines(visitor, len(expected)) == expected
    assert await console_lines(kari, 7) == [
        ["visitor", "Visitor", question],
        ["bot", "Bot", ANSWER],
        ["operator", "Kari", "Hi, Kari here. Which vintage?"],
        ["visitor", "Visitor", "2019, please"],
        ["operator", "Kari", "Pio Cesare 2019 it is."],
        ["visitor", "Visitor", "Thanks!"],
        ["operator", "Kari", "You're welcome!"],
    ]
    async with deployment.db.read() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(SessionEvent)
                .where(SessionEvent.session_id == session)
            )
        ).scalar()
    assert count == 7  # waiting, claimed, and five messages: each written once
    await operator_context.close()


async def test_the_visitors_worker_is_killed_mid_conversation(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    """SIGKILL on the visitor's worker: the widget (its script and requests through a relay
    that fails over to the other worker) follows the conversation on, after the last event it
    saw; the visitor's next message and the operator's reach the other side once, in order."""
    question = "Do you have Nebbiolo?"
    a, b = deployment.visitor_side, deployment.operator_side
    async with Proxy(port_of(a), port_of(b)) as relay:
        operator_context, kari = await console(browser, b.base_url)
        relayed = f"http://127.0.0.1:{relay.port}"
        visitor = await asks_for_a_person(deployment, browser_context, question, relayed)
        await claims(kari, question)
        said = visitor.locator(".msg.bot:has(.who)")
        await writes(kari, "Hi, Kari here. Which vintage?")
        await expect(said).to_have_count(1)

        a.kill()
        await writes(kari, "Are you there?")  # while the widget has no worker
        await expect(said).to_have_count(2, timeout=15_000)
        await ask(visitor, "Yes, 2019 please")
        await expect(kari.locator(".conversation .lines .msg").last).to_contain_text("2019")
        await writes(kari, "Pio Cesare 2019 it is.")
        expected = [
            ["bot", GREETING],
            ["visitor", question],
            ["bot", ANSWER],
            ["bot", JOINING],
            ["Kari", "Hi, Kari here. Which vintage?"],
            ["Kari", "Are you there?"],
            ["visitor", "Yes, 2019 please"],
            ["Kari", "Pio Cesare 2019 it is."],
        ]
        assert await widget_lines(visitor, len(expected)) == expected
        await operator_context.close()
    assert await stored(deployment.db, question) == [
        ("user", None, question),
        ("assistant", None, ANSWER),
        ("assistant", "Kari", "Hi, Kari here. Which vintage?"),
        ("assistant", "Kari", "Are you there?"),
        ("user", None, "Yes, 2019 please"),
        ("assistant", "Kari", "Pio Cesare 2019 it is."),
    ]


async def test_the_operators_worker_is_killed_mid_conversation(
    deployment: Deployment, browser: Browser, browser_context: BrowserContext
) -> None:
    """SIGKILL on the operator's worker right after it stored Kari's message, before its reply
    got out. The browser sends the request again to the other worker (or Kari does, after the
    console said it failed): the Idempotency-Key the console sends stores it once. The console
    reconnects through the relay to the other worker, catches up with what the visitor wrote
    meanwhile, and goes on; neither side loses or repeats a message. (The next test would
    restart the worker.)"""
    question = "Do you have Barbaresco?"
    a, b = deployment.visitor_side, deployment.operator_side
    async with Proxy(port_of(b), port_of(a)) as relay:
        operator_context, kari = await console(browser, f"http://127.0.0.1:{relay.port}")
        visitor = await asks_for_a_person(deployment, browser_context, question)
        await claims(kari, question)
        said = visitor.locator(".msg.bot:has(.who)")
        await writes(kari, "Hi, Kari here. Which vintage?")
        await expect(said).to_have_count(1)
        await ask(visitor, "2019, please")
        await expect(kari.locator(".conversation .lines .msg").last).to_contain_text("2019")

        sent = "Pio Cesare 2019 it is."
        await kari.fill(".composer textarea", sent)
        relay.replies_lost = True
        await kari.keyboard.press("Enter")
        await eventually(lambda: is_stored(deployment.db, sent))
        b.kill()
        relay.replies_lost = False
        await expect(kari.locator("#live")).to_have_text("connecting…")
        await shot(kari, "reconnecting")
        # The visitor has it: B published it to Redis (or, killed between its commit and its
        # publication, A's follower reads it from the database after its quiet wait, 10 s).
        await expect(said).to_have_count(2, timeout=15_000)
        await ask(visitor, "Great, thanks!")  # while the console has no worker
        await expect(kari.locator("#live")).to_have_text("● live", timeout=10_000)
        await expect(kari.locator(".conversation .lines .msg").last).to_contain_text("Great")
        # Chromium sends a request again by itself when its reused connection closed without
        # a reply (here to worker A, through the relay); else the console says it failed and
        # keeps the text, and Kari sends it again. Either way it is stored once.
        if await kari.locator(".composer textarea").input_value() == sent:
            await kari.locator(".composer button[type=submit]").click()
        await expect(kari.locator(".composer textarea")).to_have_value("")
        await writes(kari, "You're welcome!")
        expected = [
            ["bot", GREETING],
            ["visitor", question],
            ["bot", ANSWER],
            ["bot", JOINING],
            ["Kari", "Hi, Kari here. Which vintage?"],
            ["visitor", "2019, please"],
            ["Kari", sent],
            ["visitor", "Great, thanks!"],
            ["Kari", "You're welcome!"],
        ]
        assert await widget_lines(visitor, len(expected)) == expected
        assert await console_lines(kari, 7) == [
            ["visitor", "Visitor", question],
            ["bot", "Bot", ANSWER],
            ["operator", "Kari", "Hi, Kari here. Which vintage?"],
            ["visitor", "Visitor", "2019, please"],
            ["operator", "Kari", sent],
            ["visitor", "Visitor", "Great, thanks!"],
            ["operator", "Kari", "You're welcome!"],
        ]
        await operator_context.close()
    assert await stored(deployment.db, question) == [
        ("user", None, question),
        ("assistant", None, ANSWER),
        ("assistant", "Kari", "Hi, Kari here. Which vintage?"),
        ("user", None, "2019, please"),
        ("assistant", "Kari", sent),
        ("user", None, "Great, thanks!"),
        ("assistant", "Kari", "You're welcome!"),
    ]
