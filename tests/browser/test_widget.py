"""The chat widget in a real Chromium, on a page of ANOTHER origin, against a real server.

The host page comes from a second server (another port) with a strict Content-Security-Policy,
so every call the widget makes goes through CORS and the publishable key's origin check.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, Route, expect
from sqlalchemy import select

from chinwag.auth.tokens import user_hash
from chinwag.bots.demo import demo_knowledge_on
from chinwag.conversations.models import ChatSession, Feedback, Message
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.browser.widget_pages import (
    HostSite,
    Proxy,
    ask,
    differing_pixels,
    eventually,
    finished_answers,
    open_page,
    stored_answers,
    upload,
    with_knowledge,
)
from tests.conftest import RunningServer, run_server

# Chromium costs ~2.5 s of CPU a test (45 tests: a third of the fast set's CPU): the browser
# tests run in `make test`; `pytest tests/browser` runs them alone.
pytestmark = pytest.mark.slow

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@dataclass
class Setup:
    server: RunningServer
    site: HostSite
    key: str


@pytest.fixture
async def setup(make_settings: Settings, fake_llm: FakeLLM) -> AsyncIterator[Setup]:
    with HostSite() as site:
        async with run_server(make_settings) as server:
            key = await publishable_key(server, [site.origin])
            yield Setup(server, site, key)


async def publishable_key(server: RunningServer, origins: list[str]) -> str:
    created = await server.client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "name": "site",
            "bot_id": "vinhuset",
            "allowed_origins": origins,
        },
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


async def test_ask_on_another_origin_shows_answer_sources_and_stores_feedback(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext, tmp_path: Path
) -> None:
    server = setup.server
    await with_knowledge(server, fake_llm, tmp_path)
    page = await open_page(
        browser_context, setup.site.add("shop.html", widget=server.base_url, key=setup.key)
    )
    await ask(page, "When are you open on Saturday?")
    [shown] = await finished_answers(page, 1)
    [stored] = await stored_answers(server)
    assert stored.status == "complete" and shown == " ".join(stored.content.split())

    chips = page.locator(".source")
    assert await chips.count() == len(stored.citations) > 0
    # Each chip: the document's title (a text file's heading in capitals, in sentence case),
    # prominent, then the passage used, in smaller type and cut to two lines by CSS.
    assert await chips.locator(".t").all_inner_texts() == [c["title"] for c in stored.citations]
    assert {c["title"] for c in stored.citations} == {"Opening hours", "Delivery in Bergen"}
    snippets = await chips.locator(".snippet").all_inner_texts()
    assert snippets == [c["snippet"] for c in stored.citations]
    assert "Delivery takes two days in Bergen on Saturday too." in snippets
    style = "(e, p) => getComputedStyle(e)[p]"
    assert await chips.first.locator(".t").evaluate(style, "fontWeight") == "600"
    assert await chips.first.locator(".snippet").evaluate(style, "webkitLineClamp") == "2"
    links = {c["title"]: c["url"] for c in stored.citations}
    first = chips.first.locator("a")
    assert await first.get_attribute("href") == links[await first.inner_text()]
    assert (await first.get_attribute("href") or "").startswith("https://shop.example/")
    assert await first.get_attribute("rel") == "noopener noreferrer"

    await page.get_by_role("button", name="Not helpful").click()
    await page.get_by_role("button", name="Helpful", exact=True).click()  # changed its mind
    await page.get_by_label("Tell us more (optional)").fill("Spot on")
    await page.get_by_label("Tell us more (optional)").press("Enter")

    async def rated() -> bool:
        async with server.db.read() as conn:
            row = (await conn.execute(select(Feedback.rating, Feedback.comment))).all()
        return row == [(1, "Spot on")]

    await eventually(rated)
    assert await page.evaluate("window.__messages.map(m => m.messageId)") == [stored.id]
    assert await page.evaluate("window.__feedback.at(-1).rating") == 1
    assert await page.evaluate("window.__csp") == []  # nothing the strict CSP had to refuse


@SQLITE_ONLY
async def test_the_end_of_an_answer_stays_in_view_unless_the_visitor_scrolled_up(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext, tmp_path: Path
) -> None:
    await with_knowledge(setup.server, fake_llm, tmp_path)
    fake_llm.behaviour.words = ["Barolo wants lamb, mushrooms or an old hard cheese; note"]
    fake_llm.behaviour.tokens = 40  # a long answer: ~50 lines
    url = setup.site.add("scroll.html", widget=setup.server.base_url, key=setup.key)
    page = await open_page(browser_context, url)
    await ask(page, "What goes with Barolo?")
    await finished_answers(page, 1)
    log = await page.locator(".log").bounding_box()
    rate = await page.locator(".rate").last.bounding_box()
    assert log and rate
    assert log["y"] <= rate["y"] and rate["y"] + rate["height"] <= log["y"] + log["height"] + 1

    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 60, 0.05
    await ask(page, "And with Barbaresco?")
    await expect(page.locator(".msg.bot.streaming .bubble")).to_contain_text("note8")
    await page.locator(".log").evaluate("log => { log.scrollTop = 0; }")  # reads the first
    await finished_answers(page, 2)
    assert await page.locator(".log").evaluate("log => log.scrollTop") == 0  # left there


@SQLITE_ONLY
async def test_a_reload_mid_answer_shows_the_whole_answer_once(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext
) -> None:
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 30, 0.08
    url = setup.site.add("shop.html", widget=setup.server.base_url, key=setup.key)
    page = await open_page(browser_context, url)
    await ask(page, "Tell me a long story")
    await expect(page.locator(".msg.bot.streaming .bubble")).to_contain_text("fake3")
    resumed: list[str] = []
    page.on("request", lambda r: resumed.append(r.url) if "/events?after=" in r.url else None)
    await page.reload()
    await page.locator(".launcher").click()
    [shown] = await finished_answers(page, 1)
    [stored] = await stored_answers(setup.server)
    assert shown == " ".join(stored.content.split())
    assert stored.content.count("Hello0") == 1 and "LLM29" in stored.content
    assert len(resumed) == 1 and int(resumed[0].rsplit("=", 1)[1]) > 3  # after N, not from 0
    await expect(page.locator(".msg.user")).to_have_count(1)  # history from the server, once


@SQLITE_ONLY
async def test_a_dropped_connection_resumes_where_it_stopped(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext
) -> None:
    fake_llm.behaviour.tokens, fake_llm.behaviour.token_delay = 30, 0.08
    async with Proxy(int(setup.server.base_url.rsplit(":", 1)[1])) as proxy:
        via = f"http://127.0.0.1:{proxy.port}"
        page = await open_page(browser_context, setup.site.add("s.html", widget=via, key=setup.key))
        resumed: list[str] = []
        page.on("request", lambda r: resumed.append(r.url) if "/events?after=" in r.url else None)
        await ask(page, "Tell me a long story")
        await expect(page.locator(".msg.bot.streaming .bubble")).to_contain_text("fake3")
        proxy.cut()
        [shown] = await finished_answers(page, 1)
    [stored] = await stored_answers(setup.server)
    assert shown == " ".join(stored.content.split())
    assert resumed and int(resumed[0].rsplit("=", 1)[1]) > 3


@SQLITE_ONLY
async def test_hostile_page_styles_do_not_change_the_widget(
    setup: Setup, browser_context: BrowserContext
) -> None:
    widget, key = setup.server.base_url, setup.key
    plain = await open_page(browser_context, setup.site.add("plain.html", widget=widget, key=key))
    hostile_url = setup.site.add(
        "hostile.html", widget=widget, key=key, head="<link rel='stylesheet' href='/hostile.css'>"
    )
    hostile = await open_page(browser_context, hostile_url)
    shots = []
    for page in (plain, hostile):
        await page.locator(".launcher").click()
        await expect(page.locator(".starters button")).to_have_count(3)
        await page.locator(".launcher").focus()
        shots.append(await page.locator(".panel").screenshot(animations="disabled"))
    assert await hostile.evaluate("getComputedStyle(document.body).fontSize") == "48px"
    assert differing_pixels(*shots) < 0.005


@SQLITE_ONLY
async def test_keyboard_only_and_one_announcement_per_answer(
    setup: Setup, browser_context: BrowserContext
) -> None:
    page = await open_page(
        browser_context, setup.site.add("k.html", widget=setup.server.base_url, key=setup.key)
    )
    focused = "document.activeElement.shadowRoot?.activeElement?.className ?? ''"
    await page.keyboard.press("Tab")  # the page's own link
    await page.keyboard.press("Tab")
    assert await page.evaluate(focused) == "launcher"
    outline = "getComputedStyle(document.activeElement.shadowRoot.activeElement).outlineStyle"
    assert await page.evaluate(outline) == "solid"  # visible focus
    await page.keyboard.press("Enter")
    await expect(page.locator(".launcher")).to_have_attribute("aria-expanded", "true")
    await expect(page.get_by_role("dialog", name="Vinhuset")).to_be_visible()
    assert await page.evaluate(focused) == ""  # the textarea has no class: focus is in the box
    for number, question in enumerate(["Hei", "Are you open today?"], start=1):
        await page.keyboard.type(question)
        await page.keyboard.press("Enter")
        answers = await finished_answers(page, number)
        announced = page.locator("[data-chinwag-announcer] p")
        await expect(announced).to_have_count(number)
        assert " ".join((await announced.last.inner_text()).split()) == answers[-1]
    assert await page.locator("[role=log]").get_attribute("aria-live") == "off"  # no deltas read
    await page.keyboard.press("Escape")
    await expect(page.locator(".panel")).to_be_hidden()
    assert await page.evaluate(focused) == "launcher"
    assert await page.locator(".launcher").get_attribute("aria-expanded") == "false"


@SQLITE_ONLY
async def test_a_disallowed_origin_says_chat_is_unavailable_here_and_sends_nothing(
    setup: Setup, browser_context: BrowserContext
) -> None:
    other_key = await publishable_key(setup.server, ["https://elsewhere.example"])
    url = setup.site.add("bad.html", widget=setup.server.base_url, key=other_key)
    # 127.0.0.1: another key allows it, so CORS passes and the key itself says 403;
    # localhost: no key allows it, so the browser's CORS preflight refuses the call.
    for page_url in (url, url.replace("127.0.0.1", "localhost")):
        page = await browser_context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        sent: list[str] = []
        page.on("request", lambda r, s=sent: s.append(r.url) if r.method == "POST" else None)
        await page.goto(page_url)
        await eventually(
            lambda e=errors: _contains(e, "is not among the publishable key's allowed")
        )
        origin = page_url.rsplit("/", 1)[0]
        assert any(f"refused requests from {origin}" in e for e in errors), errors
        await page.locator(".launcher").click()
        await expect_unavailable_here(page)
        await page.locator(".launcher").click()  # closed and opened again: still one notice
        await page.locator(".launcher").click()
        await expect_unavailable_here(page)
        assert await stored_answers(setup.server) == []
        assert sent == []  # not even a token was asked for


async def expect_unavailable_here(page: Page) -> None:
    """One notice, no send box, no starters: nothing suggests a message could be sent."""
    alert = page.locator("[role=alert]")
    await expect(alert).to_have_text(["The chat is not available on this site."])
    await expect(page.locator("textarea")).to_be_hidden()
    await expect(page.locator(".send")).to_be_hidden()
    await expect(page.locator(".starters button")).to_have_count(0)
    assert "Cannot reach" not in await page.locator(".panel").inner_text()


@SQLITE_ONLY
async def test_a_revoked_key_closes_the_chat_at_load_and_mid_chat(
    setup: Setup, browser_context: BrowserContext
) -> None:
    created = await setup.server.client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "name": "old",
            "bot_id": "vinhuset",
            "allowed_origins": [setup.site.origin],
        },
    )
    key, key_id = created.json()["key"], created.json()["id"]
    url = setup.site.add("r.html", widget=setup.server.base_url, key=key)
    page = await open_page(browser_context, url)
    await ask(page, "Hello")
    await finished_answers(page, 1)
    assert (await setup.server.client.delete(f"/v1/keys/{key_id}")).status_code == 200
    await ask(page, "Still there?")  # its token was issued under the revoked key: 401
    await expect_unavailable_here(page)
    await expect(page.locator(".msg.user")).to_have_count(0)
    await page.reload()
    await page.locator(".launcher").click()
    await expect_unavailable_here(page)


@SQLITE_ONLY
async def test_an_unreachable_server_says_so_once_and_recovers(
    setup: Setup, browser_context: BrowserContext
) -> None:
    page = await browser_context.new_page()
    server = setup.server.base_url

    async def down(route: Route) -> None:
        await route.abort("connectionrefused")

    await page.route(f"{server}/v1/**", down)  # widget.js itself was cached or came earlier
    await page.route(f"{server}/healthz", down)
    await page.goto(setup.site.add("o.html", widget=server, key=setup.key))
    await page.locator(".launcher").click()
    alert = page.locator("[role=alert]")
    await expect(alert).to_have_text(["Cannot reach the chat service."])
    tries: list[str] = []
    page.on("requestfailed", lambda r: tries.append(r.url) if "/v1/widget" in r.url else None)
    for attempt in range(2):
        await page.locator("textarea").fill("Anyone?")
        await page.locator("textarea").press("Enter")
        await eventually(lambda n=attempt: _at_least(tries, n + 1))  # Send tried again
    await expect(alert).to_have_text(["Cannot reach the chat service."])  # one, not three
    await expect(page.locator("textarea")).to_have_value("Anyone?")  # kept, to send later
    await expect(page.locator(".msg.user")).to_have_count(0)
    await page.unroute(f"{server}/v1/**")
    await page.unroute(f"{server}/healthz")
    await ask(page, "Now?")
    await finished_answers(page, 1)
    await expect(alert).to_have_count(0)
    await expect(page.locator(".msg.user")).to_have_text(["Now?"])


@SQLITE_ONLY
async def test_a_message_that_cannot_reach_the_server_says_so_once_and_stays_in_the_box(
    setup: Setup, browser_context: BrowserContext
) -> None:
    page = await browser_context.new_page()
    await page.clock.install()  # the retries' backoff (0.5 s doubling) is fast-forwarded
    await page.goto(setup.site.add("u.html", widget=setup.server.base_url, key=setup.key))
    keys: list[str] = []

    async def down(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        await route.abort("connectionrefused")

    await page.route("**/v1/bots/vinhuset/messages", down)
    alert = page.locator("[role=alert]")
    for sent in (1, 2):
        await ask(page, "Anyone there?")
        for attempt in range(1, 7):  # the first try and 5 retries
            await eventually(lambda n=(sent - 1) * 6 + attempt: _at_least(keys, n))
            await page.clock.run_for(11_000)
        await expect(alert).to_have_text(["Cannot reach the chat service."])  # one, not two
        await expect(page.locator(".msg.user")).to_have_count(0)  # not sent: back in the box
        await expect(page.locator("textarea")).to_have_value("Anyone there?")
        await expect(page.get_by_role("status")).to_have_text("")  # no "reconnecting…" left
    assert len(keys) == 12 and len(set(keys)) == 1  # the same message each time
    await page.unroute("**/v1/bots/vinhuset/messages")
    await page.locator("textarea").press("Enter")
    await finished_answers(page, 1)
    await expect(alert).to_have_count(0)
    async with setup.server.db.read() as conn:
        asked = (await conn.execute(select(Message.content).where(Message.role == "user"))).all()
    assert [row.content for row in asked] == ["Anyone there?"]


@SQLITE_ONLY
async def test_no_english_text_shows_before_the_bots_language_is_known(
    setup: Setup, browser_context: BrowserContext
) -> None:
    """The demo bot speaks Norwegian (widget.language: nb) and the page sets no data-lang:
    every frame until its settings arrive (held back 1.5 s) shows no English word."""
    page = await browser_context.new_page()
    await page.add_init_script(RECORD_TEXTS)

    async def slow(route: Route) -> None:
        await asyncio.sleep(1.5)
        await route.continue_()

    await page.route("**/v1/widget", slow)
    url = setup.site.add("lang.html", widget=setup.server.base_url, key=setup.key, attrs="")
    await page.goto(url)
    await page.evaluate("Chinwag.open()")  # before the settings: opens once they are known
    await expect(page.get_by_role("button", name="Ny samtale")).to_be_visible(timeout=10_000)
    frames: list[str] = await page.evaluate("window.__texts")
    assert len(frames) > 30  # ~90 frames were watched before the settings came
    english = ("Chat with us", "New chat", "Write a message", "Close chat")  # nb: "Send" too
    assert not [f for f in frames if any(word in f for word in english)], frames
    shown = [f for f in frames if f.strip(" |")]
    assert shown and "Chat med oss" in shown[0]  # the first frame with text is Norwegian


# Every animation frame: what the widget shows (visible text, placeholder, launcher label).
RECORD_TEXTS = """
window.__texts = [];
const watch = () => {
  const root = document.querySelector("chinwag-widget")?.shadowRoot?.querySelector(".root");
  if (root) {
    const seen = root.checkVisibility() ? [root.innerText] : [];
    for (const e of root.querySelectorAll("[placeholder], [aria-label]"))
      if (e.checkVisibility()) seen.push(e.placeholder || "", e.getAttribute("aria-label") || "");
    window.__texts.push(seen.join(" | "));
  }
  requestAnimationFrame(watch);
};
requestAnimationFrame(watch);
"""


async def _contains(lines: list[str], text: str) -> bool:
    return any(text in line for line in lines)


async def _at_least(items: list[str], count: int) -> bool:
    return len(items) >= count


@SQLITE_ONLY
async def test_model_html_and_script_links_are_shown_as_text(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext
) -> None:
    fake_llm.behaviour.model_replies["fake-model"] = (
        'Look: <img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=2) '
        "<b>bold</b> <script>window.__pwned=3</script> [ok](https://shop.example/ok) "
        "[tap](javascript:alert(document.cookie))"
    )
    page = await open_page(
        browser_context, setup.site.add("x.html", widget=setup.server.base_url, key=setup.key)
    )
    await ask(page, "Say something nasty")
    [shown] = await finished_answers(page, 1)
    bubble = page.locator(".msg.bot:has(.rate) .bubble")
    assert '<img src=x onerror="window.__pwned=1">' in shown and "<b>bold</b>" in shown
    assert "<script>window.__pwned=3</script>" in shown
    assert await bubble.locator("img, b, script").count() == 0
    assert await bubble.locator("a").count() == 1
    assert await bubble.locator("a").get_attribute("href") == "https://shop.example/ok"
    assert "click" in shown and "javascript" not in shown
    assert shown.endswith("ok tap")  # the link text, not "tap)" or "cookie))"
    assert await page.evaluate("window.__pwned") is None


@SQLITE_ONLY
async def test_links_whose_urls_hold_parentheses_are_whole(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext
) -> None:
    fake_llm.behaviour.model_replies["fake-model"] = (
        "Read [Barolo](https://en.wikipedia.org/wiki/Barolo_(wine)) and "
        "[Nebbiolo](https://en.wikipedia.org/wiki/Nebbiolo_(grape)#Barolo). "
        "Bare: https://en.wikipedia.org/wiki/Barbaresco_(wine). "
        "(See https://shop.example/lamb.) [half](no link)"
    )
    page = await open_page(
        browser_context, setup.site.add("p.html", widget=setup.server.base_url, key=setup.key)
    )
    await ask(page, "Tell me about Barolo")
    [shown] = await finished_answers(page, 1)
    links = page.locator(".msg.bot:has(.rate) .bubble a")
    hrefs = [await a.get_attribute("href") for a in await links.all()]
    assert hrefs == [
        "https://en.wikipedia.org/wiki/Barolo_(wine)",
        "https://en.wikipedia.org/wiki/Nebbiolo_(grape)#Barolo",
        "https://en.wikipedia.org/wiki/Barbaresco_(wine)",
        "https://shop.example/lamb",
    ]
    assert await links.all_inner_texts() == [
        "Barolo",
        "Nebbiolo",
        "https://en.wikipedia.org/wiki/Barbaresco_(wine)",
        "https://shop.example/lamb",
    ]
    assert shown == (
        "Read Barolo and Nebbiolo. Bare: https://en.wikipedia.org/wiki/Barbaresco_(wine). "
        "(See https://shop.example/lamb.) [half](no link)"
    )


def demo_shop(setup: Setup) -> str:
    """The demo shop page (what `chinwag demo` serves at /), here from the second origin."""
    setup.site.add("demo.html", widget=setup.server.base_url, key=setup.key)
    from importlib import resources

    page = resources.files("chinwag.web").joinpath("demo", "index.html").read_text()
    tag = f"{setup.server.base_url}/widget.js"
    page = page.replace("/widget.js?v={{widget_version}}", tag)
    setup.site.pages["demo.html"] = page.replace("{{publishable_key}}", setup.key)
    return f"{setup.site.origin}/demo.html"


@pytest.mark.skipif(
    not os.environ.get("CHINWAG_WIDGET_SCREENSHOTS"), reason="writes docs/img; set the variable"
)
@SQLITE_ONLY
async def test_docs_screenshots(
    setup: Setup, fake_llm: FakeLLM, browser: Any, tmp_path: Path
) -> None:
    """The screenshots in docs/widget.md: desktop and phone width, light and dark. A visitor
    asks the demo shop two questions; each answer is a curated text (what the demo's model
    answers to them) and cites the demo document it was given."""
    shipped = demo_knowledge_on(setup.site.origin, tmp_path)  # URLs on the shop page
    # One chunk of each document, the one about the question (fake embeddings would pick any
    # of their chunks): the address and hours, the guide's opening and its roast.
    opening = (shipped / "opening-hours.txt").read_text()
    hours = ("opening-hours.txt", opening[: opening.index("Public holidays")].encode())
    guide = (shipped / "lamb-pairing.md").read_text()
    lamb = ("lamb-pairing.md", guide[: guide.index("\n## ", guide.index("## Roast") + 1)].encode())
    await with_knowledge(setup.server, fake_llm, tmp_path, files=[hours], top_k=1)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        for name, size in (("desktop", (1100, 760)), ("mobile", (390, 760))):
            context = await browser.new_context(
                viewport={"width": size[0], "height": size[1]}, color_scheme=scheme
            )
            page = await open_page(context, demo_shop(setup))
            for number, (question, answer, document) in enumerate(CONVERSATION, start=1):
                known = {hours[0]: hours, lamb[0]: lamb}
                await only_document(setup.server, known[document], other=set(known) - {document})
                fake_llm.behaviour.model_replies["fake-model"] = answer
                await ask(page, question)
                await finished_answers(page, number)
                if number == 1:
                    await page.get_by_role("button", name="Nyttig", exact=True).click()
            await page.locator("textarea").blur()
            await page.screenshot(path=DOCS_IMG / f"widget-{name}-{scheme}.png")
            await context.close()


# (question, the answer, the document retrieval finds for it)
CONVERSATION = [
    (
        "Når har dere åpent på lørdag?",
        "På lørdager har vi åpent **10–16**, og lørdagene i desember helt til **18**.\n\n"
        "Du finner oss i Korketrekkersmauet 4, noen minutter fra Fisketorget. "
        "Se etter den grønne døra!",
        "opening-hours.txt",
    ),
    (
        "Hvilken vin passer til lammestek?",
        "Til lammestek med hvitløk og rosmarin passer en rødvin med fast struktur og litt "
        "alder, for eksempel en **Rioja Reserva** eller en **Chianti Classico Riserva**.\n\n"
        "Fra hylla denne uka: **Langhe Nebbiolo 2021** (kr 289), med roser, kirsebær og "
        "faste tanniner.",
        "lamb-pairing.md",
    ),
]


async def only_document(server: RunningServer, file: tuple[str, bytes], other: set[str]) -> None:
    """The bot's index holds this document alone (fake embeddings rank by chance)."""
    for source in other | {file[0]}:
        await server.client.delete(f"/v1/bots/vinhuset/knowledge/documents/{source}")
    await upload(server, [file])


@SQLITE_ONLY
async def test_a_message_refused_by_a_server_shutting_down_is_sent_again(
    setup: Setup, browser_context: BrowserContext
) -> None:
    """A worker that is draining answers 503 `server_draining`; the load balancer sends the
    widget's retry (same Idempotency-Key, after Retry-After) to another worker."""
    page = await open_page(
        browser_context, setup.site.add("d.html", widget=setup.server.base_url, key=setup.key)
    )
    sent: list[str] = []

    async def refuse_the_first(route: Route) -> None:
        if route.request.method != "POST":
            await route.continue_()
            return
        sent.append(route.request.headers.get("idempotency-key", ""))
        if len(sent) > 1:
            await route.continue_()
            return
        problem = {
            "type": "https://chinwag.dev/errors/server_draining",
            "title": "server draining",
            "status": 503,
            "detail": "this server is shutting down and takes no new messages",
            "code": "server_draining",
            "hint": "send the request again after Retry-After seconds",
            "retry_after": 1,
        }
        await route.fulfill(
            status=503,
            headers={
                "content-type": "application/problem+json",
                "retry-after": "1",
                "access-control-allow-origin": setup.site.origin,
                "access-control-expose-headers": "retry-after",
            },
            body=json.dumps(problem),
        )

    await page.route("**/v1/bots/vinhuset/messages", refuse_the_first)
    await ask(page, "Hello there")
    [shown] = await finished_answers(page, 1)
    [stored] = await stored_answers(setup.server)
    assert shown == " ".join(stored.content.split())
    assert len(sent) == 2 and sent[0] == sent[1] != ""
    assert await page.locator(".msg.bot.error").count() == 0


@SQLITE_ONLY
async def test_errors_say_what_they_are(
    setup: Setup, fake_llm: FakeLLM, browser_context: BrowserContext
) -> None:
    config = (await setup.server.client.get("/v1/bots/vinhuset")).json()["config"]
    main = {"template": "{{ message }}"}
    limited = {**config, "limits": {"per_user": "1/minute"}, "flows": {"main": main}}
    assert (await setup.server.client.put("/v1/bots/vinhuset", json=limited)).status_code == 200
    page = await open_page(
        browser_context, setup.site.add("e.html", widget=setup.server.base_url, key=setup.key)
    )
    fake_llm.behaviour.fail_status = 503
    await ask(page, "First")
    failed = page.locator(".msg.bot.error").last
    await expect(failed).to_contain_text("The chat is unavailable right now.")
    await ask(page, "Second")  # over the bot's limit of one message a minute
    alert = page.locator("[role=alert]").last
    await expect(alert).to_contain_text("Too many messages. Try again in")
    assert await page.locator(".msg.bot .bubble:empty").count() == 0  # never a blank bubble


@SQLITE_ONLY
async def test_a_signed_in_visitor_finds_their_chat_on_another_device(
    setup: Setup, browser: Any
) -> None:
    created = await setup.server.client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "name": "verified",
            "bot_id": "vinhuset",
            "allowed_origins": [setup.site.origin],
        },
    )
    key, identity = created.json()["key"], created.json()["identity_secret"]
    issued = await setup.server.client.post(  # what the shop's server does per page view
        "/v1/bots/vinhuset/tokens",
        json={"user_id": "customer-42", "user_hash": user_hash(identity, "customer-42")},
        headers={"authorization": f"Bearer {key}", "origin": setup.site.origin},
    )
    token = issued.json()["token"]
    url = setup.site.add(
        "me.html",
        widget=setup.server.base_url,
        key=key,
        attrs=f"data-lang='en' data-user-token='{token}'",
    )
    answers = []
    for _device in ("laptop", "phone"):
        context = await browser.new_context()
        page = await open_page(context, url)
        if not answers:
            await ask(page, "Remember me")
            answers = await finished_answers(page, 1)
        else:
            await page.locator(".launcher").click()
            assert await finished_answers(page, 1) == answers
            await expect(page.locator(".msg.user")).to_have_text(["Remember me"])
        await context.close()


@SQLITE_ONLY
async def test_new_chat_and_the_page_api(setup: Setup, browser_context: BrowserContext) -> None:
    url = setup.site.add("n.html", widget=setup.server.base_url, key=setup.key)
    page = await open_page(browser_context, url)
    await page.evaluate("Chinwag.open()")
    await expect(page.locator(".launcher")).to_have_attribute("aria-expanded", "true")
    await ask(page, "First chat")
    await finished_answers(page, 1)
    await page.get_by_role("button", name="New chat").click()
    await expect(page.locator(".msg.user")).to_have_count(0)
    await expect(page.locator(".starters button")).to_have_count(3)
    await ask(page, "Second chat")
    await finished_answers(page, 1)
    await page.reload()
    await page.evaluate("Chinwag.open()")
    await finished_answers(page, 1)
    await expect(page.locator(".msg.user")).to_have_text(["Second chat"])  # the new session
    async with setup.server.db.read() as conn:
        sessions = (await conn.execute(select(ChatSession.user_id))).scalars().all()
    assert len(sessions) == 2 and len(set(sessions)) == 1  # two chats, one visitor
    await page.evaluate("Chinwag.close()")
    await expect(page.locator(".panel")).to_be_hidden()
