"""Retake the console screenshots of docs/console.md from the seeded demo.

Runs `chinwag demo --seed-history` (a fresh SQLite database in a temporary folder, the fake
LLM of chinwag.testing, the demo's real documents and routing), signs in with an admin key in
Debian's Chromium and writes docs/console-*.png (and docs/img/console-tool-calls.png, a
conversation whose answers called the demo shop's tools). About two minutes, most of it the
demo indexing its documents.

    PYTHONPATH=src .venv/bin/python bench/console_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright, expect

from chinwag.testing.fake_llm import FakeLLM, free_port

ROOT = Path(__file__).resolve().parent.parent
BOT = "vinhuset"
CHROMIUM = "/usr/bin/chromium"


def chinwag(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chinwag", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


async def wait_ready(base: str, log: Path, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(1)
    tail = (await asyncio.to_thread(log.read_text))[-3000:]
    raise SystemExit(f"the demo did not become ready:\n{tail}")


TOOL_SESSION = "docs-tool-calls"
TOOL_QUESTIONS = ("Where is my order 10023?", "Is the Barolo in stock?", "Where is my order 99999?")


async def ask(api: httpx.AsyncClient, question: str, session: str) -> None:
    """Send a question to the demo bot and wait for its answer to finish."""
    sent = await api.post(
        f"/v1/bots/{BOT}/messages",
        json={"message": question, "session_id": session, "user_id": "kari"},
        headers={"accept": "application/json"},
    )
    sent.raise_for_status()
    for _ in range(600):
        answer = (await api.get(f"/v1/messages/{sent.json()['assistant_message_id']}")).json()
        if answer["status"] != "streaming":
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"no answer to {question!r} in 60 s")


async def shots(base: str, admin: str, out: Path) -> None:
    async with httpx.AsyncClient(
        base_url=base, headers={"authorization": f"Bearer {admin}"}
    ) as api:
        listed = (await api.get("/v1/conversations", params={"q": "pinnekjøtt"})).json()
        lamb = next(i for i in listed["items"] if i["message_count"] == 4)
        declined = (await api.get("/v1/conversations", params={"declined": "out_of_scope"})).json()[
            "items"
        ][0]
        down = await api.get("/v1/conversations", params={"rating": "down", "q": "Oslo"})
        disliked = down.json()["items"][0]
        for question in TOOL_QUESTIONS:  # the demo shop's tools, called live
            await ask(api, question, TOOL_SESSION)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="Europe/Oslo"
        )
        page = await context.new_page()

        async def shot(name: str, full: bool = False) -> None:
            await page.wait_for_timeout(300)  # fonts and charts settle
            await page.screenshot(path=str(out / f"console-{name}.png"), full_page=full)
            print(f"console-{name}.png")

        await page.goto(f"{base}/admin")
        await expect(page.locator("input[name=key]")).to_be_visible()
        await shot("sign-in")
        await page.fill("input[name=key]", admin)
        await page.click("button[type=submit]")
        await expect(page.locator("#conversations tbody tr")).to_have_count(50)
        await shot("conversations")

        await page.goto(f"{base}/admin/conversations/{BOT}/{lamb['session_id']}")
        answer = page.locator(".msg.assistant").first
        await answer.locator("summary").click()
        await shot("transcript", full=True)
        await answer.get_by_role("button", name="Fix route").click()
        await expect(page.locator(".route-fix")).to_be_visible()
        await shot("fix-route", full=True)

        await page.goto(f"{base}/admin/conversations/{BOT}/{TOOL_SESSION}")
        await expect(page.locator("li.tool-call")).to_have_count(len(TOOL_QUESTIONS))
        await page.locator("li.tool-call summary").first.click()
        await page.wait_for_timeout(300)
        tools_shot = out / "img" / "console-tool-calls.png"
        await page.screenshot(path=str(tools_shot), full_page=True)
        print(tools_shot.name)

        await page.goto(f"{base}/admin/conversations/{BOT}/{declined['session_id']}")
        await expect(page.locator(".declined")).to_be_visible()
        await shot("declined")

        await page.goto(f"{base}/admin/conversations/{BOT}/{disliked['session_id']}")
        await page.get_by_role("button", name="Fix this answer").first.click()
        form = page.locator("#fix-answer")
        await form.locator("textarea[name=answer]").fill(
            "We deliver in Bergen only. For Oslo, order from Vinmonopolet: any of our wines "
            "with a product number can be ordered to your nearest Vinmonopolet store."
        )
        await form.locator("input[name=source_title]").fill("Delivery policy")
        await shot("fix-answer")

        await page.goto(f"{base}/admin/routes/{BOT}")
        await expect(page.locator("#uncertain-routes")).to_be_visible()
        await shot("uncertain-routes")
        await page.goto(f"{base}/admin/answers/{BOT}")
        await expect(page.locator("#answers")).to_be_visible()
        await shot("answers")
        await page.goto(f"{base}/admin/analytics")
        await expect(page.locator("#chart-activity canvas")).to_have_count(1)
        await shot("analytics", full=True)

        await page.goto(f"{base}/admin/bots/{BOT}")
        editor = page.locator("textarea[name=yaml]")
        await expect(editor).to_have_value(re.compile("^# Vinhuset"))
        text = await editor.input_value()
        await editor.fill(text.replace("history_turns: 6", "history_turns: 6\ncolour: burgundy"))
        await expect(page.locator("#problems")).to_contain_text("colour")
        await page.locator(".editor").evaluate("(e) => { e.scrollTop = 0; }")
        await shot("bot-error")
        await editor.fill(text.replace("history_turns: 6", "history_turns: 8"))
        await page.locator(".editor").evaluate("(e) => { e.scrollTop = 0; }")
        await expect(page.locator("#check-status")).to_have_text("Valid")
        await page.fill("input[name=note]", "remember a longer conversation")
        await page.click("#save-bot")
        # Saving learns the new version's routes and scope first: seconds on a busy machine.
        await expect(page.get_by_role("status")).to_contain_text("Saved as version", timeout=90_000)
        await page.select_option("select[name=old]", "1")
        await page.get_by_role("button", name="Show diff").click()
        await expect(page.locator("#diff")).to_contain_text("+history_turns: 8")
        await page.locator("#versions").scroll_into_view_if_needed()
        await shot("bot-versions", full=True)
        await page.click("#open-preview")
        await expect(page.frame_locator("iframe").locator("chinwag-widget")).to_have_count(1)
        await page.wait_for_timeout(1500)
        await page.locator(".editor").evaluate("(e) => { e.scrollTop = 0; }")
        await page.evaluate("scrollTo(0, 0)")
        await shot("bot-preview")

        await page.goto(f"{base}/admin/knowledge/{BOT}")
        await expect(page.locator("#documents")).to_be_visible()
        await page.fill("#test-question input[name=question]", "What goes with roast lamb?")
        await page.locator("#test-question").get_by_role("button", name="Search").click()
        await expect(page.locator("#test-question [data-mode=hybrid] li").first).to_be_visible()
        await page.evaluate("scrollTo(0, 0)")
        await shot("knowledge")

        await page.goto(f"{base}/admin/keys")
        form = page.locator("#create-key")
        await form.locator("select[name=kind]").select_option("publishable")
        await form.locator("input[name=name]").fill("shop website")
        await form.locator("input[name=origins]").fill("https://vinhuset.example")
        await form.get_by_role("button", name="Create").click()
        await expect(page.locator("#new-key")).to_be_visible()
        await shot("keys")
        await page.goto(f"{base}/admin/health")
        await expect(page.locator("#readiness")).to_have_text("Ready")
        await expect(page.locator("#doctor")).to_be_visible()
        await shot("health")
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeLLM() as llm:
        kept = ("CHINWAG_CONSOLE_NODE_MODULES",)  # where `make install` put the libraries
        env = {k: v for k, v in os.environ.items() if k in kept or not k.startswith("CHINWAG_")}
        port = free_port()
        env.update(
            CHINWAG_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/chinwag.db",
            CHINWAG_DATA_DIR=tmp,
            CHINWAG_LLM_BASE_URL=llm.base_url,
            CHINWAG_LLM_MODEL="fake-model",
            CHINWAG_SECRET_KEY="console-screenshots",
            PYTHONPATH=str(ROOT / "src"),
        )
        log = Path(tmp) / "demo.log"
        demo = subprocess.Popen(
            [sys.executable, "-m", "chinwag", "demo", "--seed-history", "--port", str(port)],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(wait_ready(base, log))
            made = chinwag(env, "keys", "create", "--kind", "admin", "--name", "docs")
            admin = re.search(r"cw_admin_\S+", made)
            assert admin is not None, made
            asyncio.run(shots(base, admin.group(0), args.out))
        finally:
            demo.terminate()
            demo.wait(30)


if __name__ == "__main__":
    main()
