"""Secrets from a file (CHINWAG_SECRETS_FILE): a tool's `${NAME}` is read from it when the
environment has no such variable, a change to the file reaches the next call, and the value is
never returned by the API (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chinwag import secrets
from chinwag.bots.service import config_json
from chinwag.secrets import Secrets, SecretsFileInvalid, parse_secrets
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM
from tests.conftest import run_server
from tests.helpers import ask
from tests.tools.shop import TOKEN, FakeShop
from tests.tools.test_tool_flows import shop_bot

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeShop]:
    monkeypatch.delenv("SHOP_API_TOKEN", raising=False)
    monkeypatch.setattr(secrets, "RECHECK_SECONDS", 0.0)
    with FakeShop() as running:
        yield running
    secrets.configure(None)  # the next server in this process reads the environment alone


def _text(events: list[object]) -> str:
    return "".join(e.data["text"] for e in events if e.type == "message.delta")  # type: ignore[attr-defined]


async def test_a_tool_reads_its_secret_from_the_file_and_its_changes(
    make_settings: Settings, fake_llm: FakeLLM, shop: FakeShop, tmp_path: Path
) -> None:
    file = tmp_path / "secrets.env"
    file.write_text("# the shop's API\nSHOP_API_TOKEN=wrong-token\n")
    file.chmod(0o600)
    settings = make_settings.model_copy(update={"secrets_file": file})
    bot = config_json(shop_bot(shop))
    async with run_server(settings, seed_demo=False) as server:
        saved = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert saved.status_code == 200, saved.text  # set in the file: no env_var_not_set

        refused = await ask(server.client, "Where is my order 10023?")
        (done,) = [e.data for e in refused if e.type == "tool.completed"]
        assert (done["status"], done["http_status"]) == ("error", 401)  # the file's value went

        file.write_text(f"SHOP_API_TOKEN={TOKEN}\n")  # rotated: no restart
        events = await ask(server.client, "Where is my order 10023?")
        assert _text(events) == "Order 10023 is shipped; delivery 2026-12-09."
        assert shop.seen[-1].headers["authorization"] == f"Bearer {TOKEN}"
        shown = await server.client.get("/v1/bots/vinhuset")
        assert TOKEN not in shown.text and "${SHOP_API_TOKEN}" in shown.text

        file.write_text("# nothing any more\n")
        missing = await server.client.put("/v1/bots/vinhuset", json=bot)
        assert missing.status_code == 422, missing.text
        codes = {p["code"] for p in missing.json()["problems"]}
        assert codes == {"env_var_not_set"}, missing.text


def test_a_bad_line_is_named_by_its_number_and_never_quoted() -> None:
    assert parse_secrets("A=1\n\n# note\n B = two = 2 \n", "f") == {"A": "1", "B": "two = 2"}
    with pytest.raises(SecretsFileInvalid) as caught:
        parse_secrets("A=1\nhunter2\n", "/etc/chinwag/secrets.env")
    assert caught.value.message == "/etc/chinwag/secrets.env, line 2: not NAME=value"
    assert "hunter2" not in str(caught.value) and caught.value.hint


def test_the_environment_comes_first_and_values_are_never_listed(tmp_path: Path) -> None:
    file = tmp_path / "secrets.env"
    file.write_text("TOKEN=from-file\nOTHER=only-file\n")
    found = Secrets(file, environ={"TOKEN": "from-env"})
    assert (found["TOKEN"], found.get("OTHER"), found.get("NONE")) == (
        "from-env",
        "only-file",
        None,
    )
    assert "OTHER" in found and "NONE" not in found
    with pytest.raises(TypeError):
        list(found)
