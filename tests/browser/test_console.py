"""The admin console in a real Chromium, against a real server on SQLite and PostgreSQL with
seeded conversations (the fake LLM answers; some answers are rated 👎)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from chinwag.auth.keys import create_key
from chinwag.bots.service import put_bot
from chinwag.config.bot import BotConfig, EmbeddingConfig, KnowledgeConfig
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.handoff.conftest import learning_bot
from tests.helpers import JSON, wait_finished

# Chromium costs ~2.5 s of CPU a test (45 tests: a third of the fast set's CPU): the browser
# tests run in `make test`; `pytest tests/browser` runs them alone.
pytestmark = pytest.mark.slow

SCRATCH = Path(tempfile.gettempdir()) / "chinwag-console-screenshots"
BOT = "vinhuset"


def console_bot() -> BotConfig:
    """A valid one-flow bot (the conversation tests' bot reads a flow it lacks)."""
    return BotConfig.model_validate(
        {
            "id": BOT,
            "name": "Vinhuset",
            "flows": {
                "main": {"system": "You help a wine shop's customers.", "template": "{{ message }}"}
            },
        }
    )


@dataclass
class Seeded:
    server: RunningServer
    secret: str  # vinhuset's secret key
    other_secret: str  # the bot `other`'s secret key
    disliked_session: str
    disliked_message: str
    question: str

    @property
    def url(self) -> str:
        return self.server.base_url


async def send(client: httpx.AsyncClient, text: str, user: str, bot: str = BOT) -> dict[str, str]:
    response = await client.post(
        f"/v1/bots/{bot}/messages", json={"message": text, "user_id": user}, headers=JSON
    )
    assert response.status_code == 202, response.text
    ids: dict[str, str] = response.json()
    await wait_finished(client, ids["assistant_message_id"])
    return ids


@pytest.fixture
async def seeded(make_settings: Settings) -> AsyncIterator[Seeded]:
    async with run_server(make_settings, bot=console_bot()) as server:
        async with server.db.write() as conn:
            await put_bot(conn, plain_demo_bot().model_copy(update={"id": "other"}))
            secret = await create_key(conn, kind="secret", name="shop backend", bot_id=BOT)
            other = await create_key(conn, kind="secret", name="other backend", bot_id="other")
        client = server.client
        question = "Do you sell Riesling from the Mosel?"
        disliked = await send(client, question, "alice")
        await send(client, "When are you open on Saturday?", "bob")
        await send(client, "Hello from the other bot", "carol", bot="other")
        rated = await client.put(
            f"/v1/messages/{disliked['assistant_message_id']}/feedback",
            json={"rating": -1, "comment": "wrong grape"},
        )
        assert rated.status_code == 200, rated.text
        yield Seeded(
            server,
            secret.key,
            other.key,
            disliked["session_id"],
            disliked["assistant_message_id"],
            question,
        )


async def sign_in(context: BrowserContext, url: str, key: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{url}/admin")
    await page.fill("input[name=key]", key)
    await page.click("button[type=submit]")
    await expect(page.locator("#sign-out")).to_be_visible()
    return page


async def shot(page: Page, name: str, database_url: str) -> None:
    """A look at each screen of the SQLite run, in a temporary folder: the screenshots in docs/
    come from the seeded demo (bench/console_screenshots.py), not from these test bots."""
    if database_url.startswith("sqlite"):
        SCRATCH.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCRATCH / f"console-{name}.png"), full_page=True)


LOCAL_TIME = """(iso) => new Intl.DateTimeFormat(undefined,
  {dateStyle: "medium", timeStyle: "short"}).format(new Date(iso))"""


async def local_time(page: Page, iso: str) -> str:
    """How the browser's locale writes a time: the console's one date format."""
    text: str = await page.evaluate(LOCAL_TIME, iso)
    return text


async def test_sign_in_and_out(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await browser_context.new_page()
    await page.goto(f"{seeded.url}/admin")
    await shot(page, "sign-in", database_url)
    await page.fill("input[name=key]", "cw_admin_wrong-key")
    await page.click("button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("not valid")
    await page.fill("input[name=key]", seeded.server.admin_key)
    await page.click("button[type=submit]")
    await expect(page.locator("nav.side")).to_contain_text("admin key")
    cookies = await browser_context.cookies()
    session = next(c for c in cookies if c["name"] == "chinwag_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["expires"] > 0
    assert seeded.server.admin_key not in session["value"]
    await page.click("#sign-out")
    await expect(page.locator("input[name=key]")).to_be_visible()
    # The old cookie value is dead on the server, not only forgotten by the browser.
    async with httpx.AsyncClient(
        base_url=seeded.url, cookies={"chinwag_console": session["value"]}
    ) as replay:
        response = await replay.get("/v1/conversations")
    assert response.status_code == 401


async def test_filter_thumbs_down_and_open_one(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await expect(page.locator("#conversations tbody tr")).to_have_count(3)
    await shot(page, "conversations", database_url)
    await page.select_option("select[name=rating]", "down")
    await page.click("form.filters button[type=submit]")
    await expect(page.locator("#conversations tbody tr")).to_have_count(1)
    assert "rating=down" in page.url
    await page.click("#conversations tbody tr")
    await expect(page).to_have_url(
        re.compile(f"/admin/conversations/{BOT}/{seeded.disliked_session}$")
    )
    await expect(page.locator("h1")).to_have_text(seeded.question)
    header = page.locator("#conversation-meta")
    await expect(header).to_contain_text(re.compile(r"^alice · bot vinhuset · started .+ · JSON$"))
    answer = page.locator(f"[data-message='{seeded.disliked_message}']")
    await expect(answer).to_contain_text("wrong grape")
    await expect(answer).to_contain_text("TTFT")
    await answer.locator("summary").click()
    await expect(answer.locator("table")).to_contain_text("main")  # its flow run
    await expect(answer).to_contain_text("No sources retrieved.")
    await shot(page, "transcript", database_url)
    await answer.get_by_role("button", name="Fix this answer").click()
    form = page.locator("#fix-answer")
    await expect(form.locator("input[name=question]")).to_have_value(seeded.question)
    await form.locator("textarea[name=answer]").fill("Yes: three Mosel Rieslings, from 149 kr.")
    await form.locator("input[name=source_title]").fill("Wine list")
    await shot(page, "fix-answer", database_url)


async def test_correct_an_answer(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/conversations/{BOT}/{seeded.disliked_session}")
    answer = page.locator(f"[data-message='{seeded.disliked_message}']")
    await answer.get_by_role("button", name="Fix this answer").click()
    form = page.locator("#fix-answer")
    await expect(form.locator("input[name=question]")).to_have_value(seeded.question)
    await form.locator("textarea[name=answer]").fill("Yes: three Mosel Rieslings, from 149 kr.")
    await form.locator("input[name=source_title]").fill("Wine list")
    await form.get_by_role("button", name="Save curated answer").click()
    await expect(form.get_by_role("status")).to_contain_text("Saved")
    saved = (await seeded.server.client.get(f"/v1/bots/{BOT}/answers")).json()["items"]
    assert [(a["question"], a["answer"], a["message_id"], a["sources"]) for a in saved] == [
        (
            seeded.question,
            "Yes: three Mosel Rieslings, from 149 kr.",
            seeded.disliked_message,
            [{"title": "Wine list", "url": None}],
        )
    ]
    await page.goto(f"{seeded.url}/admin/answers/{BOT}")
    await expect(page.locator("#answers tbody tr")).to_have_count(1)
    await page.get_by_role("button", name="Disable").click()
    await expect(page.locator("#answers")).to_contain_text("disabled")
    await shot(page, "answers", database_url)
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete").click()
    await expect(page.locator(".empty")).to_have_text("No curated answers yet.")


def routed_bot(bot_id: str, strategy: str) -> BotConfig:
    """A bot whose `prices` flow answers word for word when chosen alone."""
    prices = {
        "description": "prices of the wines",
        "keywords": ["prices"],
        "generate": False,
        "verbatim_answer": True,
        "template": "Barolo costs 689 NOK.",
    }
    return BotConfig.model_validate(
        {
            "id": bot_id,
            "name": bot_id,
            "router": {"strategy": strategy},
            "flows": {"main": {"template": "{{ message }}"}, "prices": prices},
        }
    )


async def test_a_transcript_says_how_each_answer_was_routed(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    """A router's failure shows its code and message; a word-for-word answer names its flow."""
    async with seeded.server.db.write() as conn:
        await put_bot(conn, routed_bot("by-keywords", "keywords"))
        await put_bot(conn, routed_bot("by-llm", "llm"))  # the fake LLM answers without JSON
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    expected = {
        "by-keywords": "answered word for word from prices",
        "by-llm": "router failed: router_invalid_output: the llm router answered without JSON",
    }
    for bot, text in expected.items():
        ids = await send(seeded.server.client, "Your prices?", "dave", bot=bot)
        await page.goto(f"{seeded.url}/admin/conversations/{bot}/{ids['session_id']}")
        answer = page.locator(f"[data-message='{ids['assistant_message_id']}']")
        await answer.locator("summary").click()
        await expect(answer).to_contain_text(text)
        assert "[object Object]" not in await answer.inner_text()
    await expect(answer).to_contain_text("Hello")  # main's model answered after the failure


async def test_a_transcript_names_a_request_for_a_person_the_router_learnt(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    """The learnt `handoff` flow chose the message: the route says so, not "main only"."""
    asker = learning_bot().model_copy(update={"id": "asker"})
    async with seeded.server.db.write() as conn:
        await put_bot(conn, asker)
    ids = await send(seeded.server.client, "Get me your manager", "erin", bot="asker")
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/conversations/asker/{ids['session_id']}")
    answer = page.locator(f"[data-message='{ids['assistant_message_id']}']")
    await answer.locator("summary").click()
    await expect(answer).to_contain_text("flows handoff: asks for a person")
    await expect(answer).to_contain_text("I've asked for a person from Vinhuset.")
    await shot(page, "transcript-asks-person", database_url)


async def test_deep_link_and_export(seeded: Seeded, browser_context: BrowserContext) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/conversations/{BOT}/{seeded.disliked_session}")
    await expect(page.locator("h1")).to_have_text(seeded.question)
    await expect(page.locator("#conversation-meta")).to_contain_text(seeded.disliked_session)
    await page.goto(f"{seeded.url}/admin/conversations?rating=down")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="CSV").click()
    path = await (await download.value).path()
    lines = (await asyncio.to_thread(Path(path).read_text)).splitlines()
    assert lines[0].startswith("bot_id,session_id,user_id,message_id")
    assert len(lines) == 3 and seeded.question in lines[1]


async def test_bot_editor_error_at_its_line_save_and_roll_back(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/bots/{BOT}")
    editor = page.locator("textarea[name=yaml]")
    await expect(editor).to_have_value(re.compile("^id: vinhuset"))
    text = await editor.input_value()
    lines = text.splitlines()
    where = next(i for i, line in enumerate(lines) if line.startswith("name:"))
    broken = [*lines[:where], "colour: red", *lines[where:]]
    await editor.fill("\n".join(broken))
    problem = page.locator("#problems li", has_text="colour")
    await expect(problem).to_contain_text(f"line {where + 1}")
    await expect(page.locator(f".gutter div[data-line='{where + 1}']")).to_have_class("problem")
    await expect(page.locator("#save-bot")).to_be_disabled()
    await shot(page, "bot-error", database_url)
    renamed = [("name: Vinhuset Bergen" if line.startswith("name:") else line) for line in lines]
    await editor.fill("\n".join(renamed))
    await expect(page.locator("#check-status")).to_have_text("Valid")
    await page.click("#save-bot")
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 2")
    await page.select_option("select[name=old]", "1")
    await page.get_by_role("button", name="Show diff").click()
    await expect(page.locator("#diff")).to_contain_text("+name: Vinhuset Bergen")
    await shot(page, "bot-versions", database_url)
    await page.get_by_role("button", name="Roll back to v1").click()
    await expect(page.get_by_role("status")).to_contain_text("Rolled back")
    active = (await seeded.server.client.get(f"/v1/bots/{BOT}")).json()
    assert active["version"] == 3 and active["config"]["name"] != "Vinhuset Bergen"


LONG_LINE = (
    "You help the customers of a small wine shop in Bergen: wines, food pairings, tastings "
    "and opening hours, in the customer's language."
)
OWNERS_YAML = f"""# Vinhuset's assistant. Ask Kari before changing the prompt.
id: vinhuset
name: Vinhuset

flows:
  main:
    # The long line stays one line:
    system: "{LONG_LINE}"
    template: "{{{{ message }}}}"
"""


async def test_the_editor_keeps_the_owners_text_notes_and_shows_a_rollback(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    client = seeded.server.client
    saved = await client.put(f"/v1/bots/{BOT}/yaml", json={"yaml": OWNERS_YAML})
    assert saved.status_code == 200, saved.text
    mine = saved.json()["version"]
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/bots/{BOT}")
    editor = page.locator("textarea[name=yaml]")
    await expect(editor).to_have_value(OWNERS_YAML)  # comments, blank line, long line
    await editor.fill(OWNERS_YAML.replace("small wine shop", "friendly wine shop"))
    await expect(page.locator("#check-status")).to_have_text("Valid")
    await page.fill("input[name=note]", "friendlier prompt")
    await page.click("#save-bot")
    await expect(page.get_by_role("status")).to_contain_text(f"Saved as version {mine + 1}")
    row = page.locator(f"#versions tr[data-version='{mine + 1}']")
    await expect(row).to_contain_text("friendlier prompt")
    await expect(row).to_contain_text("active")
    await page.reload()
    await expect(editor).to_have_value(OWNERS_YAML.replace("small", "friendly"))
    await page.select_option("select[name=old]", str(mine))
    await page.get_by_role("button", name="Show diff").click()
    changed = page.locator("#diff span.add, #diff span.del")
    await expect(changed).to_have_count(4)  # the file names and the one line, twice
    await expect(page.locator("#diff span.add").last).to_contain_text("friendly wine shop")
    await page.get_by_role("button", name=f"Roll back to v{mine}").click()
    await expect(page.get_by_role("status")).to_contain_text(f"active as version {mine + 2}")
    await expect(page.locator("#diff-title")).to_have_text(f"v{mine + 1} → v{mine + 2}")
    await expect(page.locator("#diff span.add").last).to_contain_text("small wine shop")
    await expect(editor).to_have_value(OWNERS_YAML)
    newest = page.locator(f"#versions tr[data-version='{mine + 2}']")
    await expect(newest).to_contain_text(f"rollback to version {mine}")
    await expect(newest).to_contain_text("active")


GREETING = "Hei! Spør meg om viner og åpningstider."


async def test_the_bot_page_previews_its_widget_with_the_current_settings(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    client = seeded.server.client
    config = console_bot().model_dump(mode="json", exclude_none=True)
    config["widget"] = {"title": "Vinhuset i Bergen", "greeting": GREETING, "accent": "#7b2340"}
    assert (await client.put(f"/v1/bots/{BOT}", json=config)).status_code == 200
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    await page.goto(f"{seeded.url}/admin/bots/{BOT}")
    await page.get_by_role("button", name="Show the widget preview").click()
    frame = page.frame_locator("#widget-preview iframe")
    await expect(frame.locator("#chinwag-title")).to_have_text("Vinhuset i Bergen")
    await expect(frame.get_by_text(GREETING)).to_be_visible()
    await page.emulate_media(reduced_motion="reduce")
    await shot(page, "bot-preview", database_url)
    keys = [k for k in (await client.get("/v1/keys")).json() if k["name"] == "console-preview"]
    assert [(k["kind"], k["bot_id"], k["allowed_origins"]) for k in keys] == [
        ("publishable", BOT, [seeded.url])
    ]
    # Saving a new version reloads the preview with it; the kept key is used, not a new one.
    editor = page.locator("textarea[name=yaml]")
    renamed = (await editor.input_value()).replace("Vinhuset i Bergen", "Vinhuset Sandviken")
    await editor.fill(renamed)
    await expect(page.locator("#check-status")).to_have_text("Valid")
    await page.click("#save-bot")
    await expect(page.get_by_role("status")).to_contain_text("Saved as version 3")
    await expect(frame.locator("#chinwag-title")).to_have_text("Vinhuset Sandviken")
    await page.reload()
    await expect(frame.locator("#chinwag-title")).to_have_text("Vinhuset Sandviken")
    keys = [k for k in (await client.get("/v1/keys")).json() if k["name"] == "console-preview"]
    assert len(keys) == 1
    # A revoked preview key is replaced the next time the preview opens.
    assert (await client.delete(f"/v1/keys/{keys[0]['id']}")).status_code == 200
    await page.reload()
    await expect(frame.get_by_text(GREETING)).to_be_visible()
    live = [k for k in (await client.get("/v1/keys")).json() if k["name"] == "console-preview"]
    assert len(live) == 1 and live[0]["id"] != keys[0]["id"]
    await page.get_by_role("button", name="Roll back to v2").click()
    await expect(frame.locator("#chinwag-title")).to_have_text("Vinhuset i Bergen")
    assert refused == []


async def test_the_preview_page_may_be_framed_only_by_the_console(seeded: Seeded) -> None:
    response = await seeded.server.client.get("/admin/preview")
    assert response.status_code == 200
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and "script-src 'self';" in policy
    assert '<script type="module" src="/admin/assets/preview.js">' in response.text


async def test_a_bot_secret_key_is_told_the_preview_needs_an_admin_key(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.secret)
    await page.goto(f"{seeded.url}/admin/bots/{BOT}")
    await expect(page.locator(".preview")).to_contain_text("The preview needs an admin key")
    await expect(page.locator(".preview iframe")).to_have_count(0)


async def test_charts_render_with_data_and_with_none(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/analytics")
    await expect(page.locator("#chart-activity canvas")).to_have_count(1)
    await expect(page.locator("#chart-latency canvas")).to_have_count(1)
    await expect(page.locator("#chart-flows")).to_contain_text("main")
    await expect(page.locator("#chart-rate")).to_contain_text("1 rated down")
    await shot(page, "analytics", database_url)
    await page.fill("input[name=since]", "2020-01-01")
    await page.fill("input[name=until]", "2020-01-31")
    await expect(page.locator("#chart-activity .empty")).to_have_text("No data in this range.")
    await expect(page.locator(".chart canvas")).to_have_count(0)


async def test_keys_create_and_revoke(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/keys")
    form = page.locator("#create-key")
    await form.locator("select[name=kind]").select_option("publishable")
    await form.locator("input[name=name]").fill("shop widget")
    await form.locator("select[name=bot_id]").select_option(BOT)
    await form.locator("input[name=origins]").fill("https://shop.example")
    await form.get_by_role("button", name="Create").click()
    key = (await page.locator("#new-key .secret").first.inner_text()).strip()
    assert key.startswith("cw_pk_")
    tag = f'<script src="{seeded.url}/widget.js" data-key="{key}" data-bot="{BOT}" defer></script>'
    await expect(page.locator("#new-key code.snippet")).to_have_text(tag)
    await expect(page.locator("#new-key")).to_contain_text("Paste on https://shop.example")
    await shot(page, "keys", database_url)
    token = await seeded.server.client.post(
        f"/v1/bots/{BOT}/tokens",
        json={},
        headers={"authorization": f"Bearer {key}", "origin": "https://shop.example"},
    )
    assert token.status_code == 201
    row = page.locator("#keys tr", has_text="shop widget")
    await expect(row).to_contain_text("https://shop.example")
    await row.get_by_text("snippet").click()
    listed = tag.replace(key, "PASTE_THE_KEY")
    await expect(row.locator("code.snippet")).to_have_text(listed)
    page.on("dialog", lambda dialog: dialog.accept())
    await row.get_by_role("button", name="Revoke").click()
    await expect(row).to_contain_text("revoked")
    token = await seeded.server.client.post(
        f"/v1/bots/{BOT}/tokens",
        json={},
        headers={"authorization": f"Bearer {key}", "origin": "https://shop.example"},
    )
    assert token.status_code == 401


async def test_keys_are_created_from_a_reloaded_page_and_refusals_list_their_causes(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/keys")  # opened directly: the bots load afterwards
    await page.reload()
    form = page.locator("#create-key")
    await form.locator("select[name=kind]").select_option("publishable")
    bot = form.locator("select[name=bot_id]")
    await expect(bot).to_have_value("other")  # the first bot is shown, not a blank select
    await expect(bot.locator("option")).to_have_count(2)
    await form.locator("input[name=name]").fill("x" * 101)
    await form.locator("input[name=origins]").fill("https://shop.example")
    await form.get_by_role("button", name="Create").click()
    alert = form.get_by_role("alert")
    # The message states the first cause (as every 4xx does); the list has each one with its path
    await expect(alert.locator("strong")).to_have_text(
        "name: String should have at most 100 characters"
    )
    await expect(alert.locator("ul.causes li")).to_have_text(
        re.compile(r"^body\.name: String should have at most 100 characters$")
    )
    await form.locator("input[name=name]").fill("reloaded widget")
    await bot.select_option(BOT)
    await form.get_by_role("button", name="Create").click()
    await expect(page.locator("#new-key")).to_contain_text("Copy this key now")
    keys = (await seeded.server.client.get("/v1/keys")).json()
    made = next(k for k in keys if k["name"] == "reloaded widget")
    assert (made["kind"], made["bot_id"]) == ("publishable", BOT)
    await expect(form.get_by_role("alert")).to_have_count(0)


async def test_the_bot_picker_shows_a_bot_when_a_page_is_opened_directly(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.secret)
    for screen in ("conversations", "analytics", "routes", "answers", "knowledge"):
        await page.goto(f"{seeded.url}/admin/{screen}")
        await expect(page.locator("select[name=bot]")).to_have_value(BOT)
        shown = page.locator("select[name=bot] option:checked")
        await expect(shown).to_have_text(BOT)
    await page.click("#sign-out")
    admin = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await admin.goto(f"{seeded.url}/admin/conversations")
    await expect(admin.locator("select[name=bot] option:checked")).to_have_text("All bots")
    await admin.goto(f"{seeded.url}/admin/conversations?bot_id={BOT}")
    await expect(admin.locator("select[name=bot] option:checked")).to_have_text(BOT)
    await expect(admin.locator("#conversations tbody tr")).to_have_count(2)


async def test_more_pages_through_every_conversation(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    from tests.console.test_conversation_paging import _seed_sessions

    await _seed_sessions(seeded.server, 247)  # 250 with the seeded three: five pages of 50
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    rows = page.locator("#conversations tbody tr")
    await expect(rows).to_have_count(50)
    for shown in (100, 150, 200, 250):
        await page.click("#more")
        await expect(rows).to_have_count(shown)
    await expect(page.locator("#shown")).to_have_text("250 shown")
    await expect(page.locator("#more")).to_have_count(0)
    await expect(page.get_by_role("alert")).to_have_count(0)


CSP_WATCH = """window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`));"""


async def test_no_screen_breaks_the_strict_policy(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    await browser_context.add_init_script(CSP_WATCH)
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for screen, ready in (
        ("conversations", "#conversations"),
        (f"conversations/{BOT}/{seeded.disliked_session}", ".msg.assistant"),
        ("analytics", "#chart-activity canvas"),
        (f"bots/{BOT}", "textarea[name=yaml]"),
        ("keys", "#keys"),
        ("health", "#doctor"),
        (f"knowledge/{BOT}", "h1"),
        (f"answers/{BOT}", "h1"),
        (f"routes/{BOT}", "h1"),
        ("inbox", "#live"),
        (f"inbox/{BOT}/{seeded.disliked_session}", ".conversation .msg.assistant"),
    ):
        response = await page.goto(f"{seeded.url}/admin/{screen}")
        assert response is not None and "'unsafe" not in response.headers["content-security-policy"]
        await expect(page.locator(ready).first).to_be_visible()
        assert await page.evaluate("window.__csp") == [], screen
    assert [e for e in errors if "Content Security Policy" in e] == []


# The widget takes identify() once it has read its settings (a moment after the launcher shows).
IDENTIFY_ONCE_STARTED = """async (who) => {
  for (let i = 0; i < 200; i++) {
    try { Chinwag.identify(who); return; }
    catch (e) { await new Promise((r) => setTimeout(r, 50)); }
  }
  throw new Error("the widget never started");
}"""


async def test_a_conversation_is_headed_by_its_question_and_the_name_identify_gave(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    """The site's page calls Chinwag.identify with a verified user and their name and email;
    the console heads that visitor's conversation with their question and their name."""
    from chinwag.auth.tokens import user_hash
    from tests.browser.widget_pages import HostSite, ask, finished_answers, open_page

    client = seeded.server.client
    with HostSite() as site:
        created = await client.post(
            "/v1/keys",
            json={
                "kind": "publishable",
                "name": "shop",
                "bot_id": BOT,
                "allowed_origins": [site.origin],
            },
        )
        key, identity = created.json()["key"], created.json()["identity_secret"]
        visitor = await open_page(
            browser_context, site.add("shop.html", widget=seeded.url, key=key)
        )
        who = {
            "user_id": "1042",
            "user_hash": user_hash(identity, "1042"),
            "display_name": "Kari Nordmann",
            "email": "kari@example.no",
        }
        await visitor.evaluate(IDENTIFY_ONCE_STARTED, who)
        question = "Which Barolo goes with lamb on Sunday?"
        await ask(visitor, question)
        await finished_answers(visitor, 1)
    listed = (await client.get("/v1/conversations", params={"user_id": "1042"})).json()
    session = listed["items"][0]["session_id"]
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    row = page.locator("#conversations tbody tr", has_text=question)
    await expect(row).to_contain_text("Kari Nordmann")
    await row.click()
    await expect(page).to_have_url(re.compile(f"/admin/conversations/{BOT}/{session}$"))
    await expect(page.locator("h1")).to_have_text(question)
    meta = page.locator("#conversation-meta")
    await expect(meta).to_contain_text("Kari Nordmann kari@example.no · 1042 · bot vinhuset")


async def test_dates_follow_the_browsers_locale_everywhere(
    seeded: Seeded, browser: Browser
) -> None:
    """A Norwegian browser in Oslo reads Norwegian dates in Oslo time on every screen (the
    lists used day-first UTC, the filters the browser's locale); exports stay ISO."""
    context = await browser.new_context(locale="nb-NO", timezone_id="Europe/Oslo")
    try:
        page = await sign_in(context, seeded.url, seeded.server.admin_key)
        listed = (await seeded.server.client.get("/v1/conversations")).json()["items"]
        first = listed[0]
        expected = await page.evaluate(
            """(iso) => new Intl.DateTimeFormat("nb-NO", {dateStyle: "medium",
                 timeStyle: "short", timeZone: "Europe/Oslo"}).format(new Date(iso))""",
            first["last_message_at"],
        )
        assert expected == await local_time(page, first["last_message_at"])
        row = page.locator("#conversations tbody tr").first
        await expect(row.locator("td").first).to_have_text(expected)
        await page.goto(f"{seeded.url}/admin/keys")
        keys = (await seeded.server.client.get("/v1/keys")).json()
        created = await local_time(page, keys[0]["created_at"])
        await expect(page.locator("#keys")).to_contain_text(created)
        await page.goto(f"{seeded.url}/admin/conversations/{BOT}/{seeded.disliked_session}")
        transcript = next(i for i in listed if i["session_id"] == seeded.disliked_session)
        await page.goto(f"{seeded.url}/admin/conversations/{BOT}/{seeded.disliked_session}")
        started = await local_time(page, transcript["created_at"])
        await expect(page.locator("#conversation-meta")).to_contain_text(f"started {started}")
        await expect(page.locator("main")).not_to_contain_text("UTC")
    finally:
        await context.close()
    exported = await seeded.server.client.get("/v1/conversations/export?format=csv")
    created_at = exported.text.splitlines()[1].split(",")[-3]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", created_at)


async def test_a_bot_secret_key_sees_only_its_bot(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.secret)
    await expect(page.locator("nav.side")).to_contain_text(f"secret key of {BOT}")
    await expect(page.locator("nav.side")).not_to_contain_text("Keys")
    await expect(page.locator("#conversations tbody tr")).to_have_count(2)
    await expect(page.locator("#conversations")).not_to_contain_text("other")
    await page.goto(f"{seeded.url}/admin/conversations?bot_id=other")
    await expect(page.get_by_role("alert")).to_contain_text("does not exist")
    status = await page.evaluate("fetch('/v1/bots/other/sessions').then((r) => r.status)")
    assert status == 404


async def test_revoking_the_key_ends_its_sessions(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.secret)
    await expect(page.locator("#conversations tbody tr")).to_have_count(2)
    keys = (await seeded.server.client.get("/v1/keys")).json()
    secret_id = next(k["id"] for k in keys if k["name"] == "shop backend")
    assert (await seeded.server.client.delete(f"/v1/keys/{secret_id}")).status_code == 200
    await page.reload()
    await expect(page.locator("input[name=key]")).to_be_visible()


async def test_no_console_endpoint_answers_without_a_session_and_csrf_is_refused(
    seeded: Seeded, browser_context: BrowserContext
) -> None:
    async with httpx.AsyncClient(base_url=seeded.url) as anonymous:
        for path in (
            "/v1/conversations",
            "/v1/conversations/export",
            "/v1/analytics",
            "/v1/doctor",
            f"/v1/bots/{BOT}/sessions/{seeded.disliked_session}/transcript",
            f"/v1/bots/{BOT}/yaml",
            f"/v1/bots/{BOT}/diff?old=1",
            "/admin/session",
        ):
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert response.json()["code"] == "unauthenticated"
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    # A change with the session cookie but without the CSRF header: refused, nothing created.
    status, body = await page.evaluate(
        """fetch('/v1/keys', {method: 'POST', headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({kind: 'admin', name: 'csrf'})})
           .then(async (r) => [r.status, await r.json()])"""
    )
    assert status == 403 and body["code"] == "csrf_token_invalid"
    keys = (await seeded.server.client.get("/v1/keys")).json()
    assert "csrf" not in [k["name"] for k in keys]
    # The same call with the token the session gave: accepted.
    token = await page.evaluate(
        "fetch('/admin/session').then((r) => r.json()).then((s) => s.csrf_token)"
    )
    status = await page.evaluate(
        """(token) => fetch('/v1/keys', {method: 'POST', headers: {'Content-Type':
             'application/json', 'X-CSRF-Token': token},
             body: JSON.stringify({kind: 'admin', name: 'csrf'})}).then((r) => r.status)""",
        token,
    )
    assert status == 201


async def test_health_page(
    seeded: Seeded, browser_context: BrowserContext, database_url: str
) -> None:
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/health")
    await expect(page.locator("#readiness")).to_have_text("Ready")
    await expect(page.locator("#doctor")).to_contain_text("messages without session")
    await expect(page.locator("#doctor .bad")).to_have_count(0)
    await shot(page, "health", database_url)


async def test_upload_a_document_watch_the_job_test_a_question_and_delete_it(
    seeded: Seeded,
    browser_context: BrowserContext,
    fake_llm: FakeLLM,
    database_url: str,
    tmp_path: Path,
) -> None:
    client = seeded.server.client
    knowledge = KnowledgeConfig(index="console-docs")
    embedding = EmbeddingConfig(provider="openai", model="fake-embed", base_url=fake_llm.base_url)
    created = await client.post(
        "/v1/knowledge/indexes",
        json={"knowledge": knowledge.model_dump(), "embedding": embedding.model_dump()},
    )
    assert created.status_code == 201, created.text
    shop = console_bot().model_copy(
        update={"id": "shop", "knowledge": knowledge, "embedding": embedding}
    )
    saved = await client.put("/v1/bots/shop", json=shop.model_dump(mode="json", exclude_none=True))
    assert saved.status_code == 200, saved.text
    document = tmp_path / "opening-hours.md"
    document.write_text("# Opening hours\n\nThe shop is open on Saturday from 10 to 16.\n" * 20)
    page = await sign_in(browser_context, seeded.url, seeded.server.admin_key)
    await page.goto(f"{seeded.url}/admin/knowledge/shop")
    await expect(page.locator(".empty")).to_have_text("No documents yet.")
    # A type ingestion cannot read: refused on the page with what works, nothing indexed.
    other = tmp_path / "notes.docx"
    other.write_bytes(b"PK\x03\x04")
    await page.set_input_files("#upload input[name=files]", str(other))
    await page.locator("#upload").get_by_role("button", name="Upload").click()
    alert = page.locator("#upload [role=alert]")
    await expect(alert).to_contain_text("notes.docx: unsupported file type '.docx'")
    await expect(alert).to_contain_text(".pdf")
    await expect(page.locator(".empty")).to_have_text("No documents yet.")
    await page.set_input_files("#upload input[name=files]", str(document))
    await page.locator("#upload").get_by_role("button", name="Upload").click()
    await expect(page.locator("#job")).to_have_attribute("data-status", "completed")
    await expect(page.locator("#documents")).to_contain_text("opening-hours.md")
    indexed = (await client.get("/v1/bots/shop/knowledge")).json()["documents"]["opening-hours.md"]
    assert indexed["chunks"] > 1 and len(indexed["checksum"]) == 64
    row = page.locator("#documents tr", has_text="opening-hours.md")
    await expect(row.locator("td.chunks")).to_have_text(str(indexed["chunks"]))
    await expect(row).to_contain_text(indexed["checksum"][:16])
    await expect(row.locator("td.added")).to_have_text(await local_time(page, indexed["added_at"]))
    await page.fill("#test-question input[name=question]", "When are you open on Saturday?")
    await page.locator("#test-question").get_by_role("button", name="Search").click()
    for mode in ("vector", "keyword", "hybrid"):
        results = page.locator(f"#test-question [data-mode={mode}] li")
        await expect(results.first).to_contain_text("opening-hours.md")
    await shot(page, "knowledge", database_url)
    page.on("dialog", lambda dialog: dialog.accept())
    await (
        page.locator("#documents tr", has_text="opening-hours.md")
        .get_by_role("button", name="Delete")
        .click()
    )
    await expect(page.locator(".empty")).to_have_text("No documents yet.")
    info = (await client.get("/v1/bots/shop/knowledge")).json()
    assert info["documents"] == {}


async def test_a_declined_answer_shows_why_and_an_admin_marks_it_as_the_bots_business(
    make_settings: Settings, browser_context: BrowserContext, database_url: str
) -> None:
    from tests.console.test_declines import ANSWERED, POEM, UNANSWERABLE, grounded_bot

    async with run_server(make_settings, bot=grounded_bot()) as server:
        client = server.client
        await send(client, ANSWERED, "bo")  # first: it pays for learning the bot's scope
        poem = await send(client, POEM, "ann")
        await send(client, UNANSWERABLE, "cy")
        page = await sign_in(browser_context, server.base_url, server.admin_key)
        rows = page.locator("#conversations tbody tr")
        await expect(rows).to_have_count(3)
        await page.select_option("select[name=declined]", "out_of_scope")
        await page.click("form.filters button[type=submit]")
        await expect(rows).to_have_count(1)
        assert "declined=out_of_scope" in page.url
        await expect(rows.locator(".badge.declined")).to_have_text("out of scope")
        await rows.click()

        answer = page.locator(f"[data-message='{poem['assistant_message_id']}']")
        declined = answer.locator(".declined")
        await expect(declined).to_contain_text("Declined: out of scope")
        await expect(declined).to_contain_text(re.compile(r"scores: out of scope 0\.\d\d"))
        button = declined.get_by_role("button", name="Not a decline: this is our business")
        await expect(button).to_be_visible()
        await shot(page, "declined", database_url)

        await button.click()
        await expect(declined.get_by_role("status")).to_contain_text(
            "In scope from version 2 on (it was v1)",
            timeout=30_000,  # the server learns the new version's scope before it answers
        )
        await expect(declined.locator("pre.diff")).to_contain_text(f"+  - {POEM}")
        await expect(button).to_have_count(0)
        active = (await client.get(f"/v1/bots/{BOT}")).json()
        assert active["version"] == 2 and active["config"]["policy"]["in_scope"] == [POEM]


async def test_an_admin_fixes_a_route_from_the_queue_of_uncertain_routes(
    make_settings: Settings, browser_context: BrowserContext, database_url: str
) -> None:
    from tests.console.test_route_fixes import BOT as SHOP
    from tests.console.test_route_fixes import CONFIDENT, DELIVERY, shop_bot

    async with run_server(make_settings, bot=shop_bot()) as server:
        client = server.client
        await send(client, CONFIDENT, "bo", bot=SHOP)  # routed to statistics beyond doubt
        misrouted = await send(client, DELIVERY, "ann", bot=SHOP)  # statistics, barely
        page = await sign_in(browser_context, server.base_url, server.admin_key)
        await page.get_by_role("link", name="Uncertain routes").click()
        rows = page.locator("#uncertain-routes tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows).to_contain_text(DELIVERY)
        await expect(rows).to_contain_text(re.compile(r"statistics 0\.\d\d / 0\.40"))
        await shot(page, "uncertain-routes", database_url)
        await rows.get_by_role("link", name=DELIVERY).click()

        answer = page.locator(f"[data-message='{misrouted['assistant_message_id']}']")
        await answer.get_by_role("button", name="Fix route").click()
        form = answer.locator("form.route-fix")
        statistics = form.get_by_label("statistics")
        await expect(statistics).to_be_checked()  # what the router chose
        await statistics.uncheck()
        await expect(form).to_contain_text("none ticked: main alone")
        await form.get_by_role("button", name="Save route").click()
        await expect(form.get_by_role("status")).to_contain_text(
            "Routed to main alone from version 2 on (it was v1)",
            timeout=30_000,  # the server learns the new version's routes before it answers
        )
        await expect(form.locator("pre.diff")).to_contain_text(f"- {DELIVERY}")
        await expect(form.get_by_role("link", name="Versions and rollback")).to_be_visible()
        await shot(page, "fix-route", database_url)

        active = (await client.get(f"/v1/bots/{SHOP}")).json()
        assert active["version"] == 2
        assert active["config"]["flows"]["main"]["examples"][-1] == DELIVERY
