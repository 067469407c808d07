"""A new owner's first steps: `chinwag init`, then `validate`, with hints that work from there."""

from __future__ import annotations

import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import chinwag


def in_dir(directory: Path, *args: str) -> Coroutine[Any, Any, tuple[int, str, str]]:
    """`chinwag ARGS…` run in `directory`, with its own SQLite database and data dir there."""
    database_url = f"sqlite+aiosqlite:///{directory}/chinwag.db"
    return chinwag(database_url, *args, data_dir=directory / "data", cwd=directory)


@pytest.mark.slow
async def test_init_writes_a_starter_bot_that_validates(tmp_path: Path) -> None:
    code, out, err = await in_dir(tmp_path, "init", "--id", "fjellbua", "--name", "Fjellbua")
    assert code == 0, out + err
    assert "created the empty knowledge index 'fjellbua'" in out
    assert "chinwag validate bot.yaml" in out
    document = yaml.safe_load((tmp_path / "bot.yaml").read_text())
    assert document["id"] == "fjellbua" and document["knowledge"]["index"] == "fjellbua"
    assert set(document["flows"]) == {"main", "smalltalk"}
    assert len(document["flows"]["smalltalk"]["examples"]) >= 8
    assert (tmp_path / "prompts/main.system.j2").is_file()
    assert (tmp_path / "knowledge/welcome.md").is_file()

    # `--json` output stays JSON: nothing of the embedding model's loading on stderr.
    code, out, err = await in_dir(tmp_path, "validate", "--json", "bot.yaml")
    assert code == 0, out + err
    assert err == ""
    (report,) = json.loads(out)
    assert report["ok"] is True
    assert [p["code"] for p in report["problems"]] == ["knowledge_index_empty"]
    assert "`chinwag ingest bot.yaml PATH…`" in report["problems"][0]["hint"]

    code, out, err = await in_dir(tmp_path, "init")
    assert code == 1 and "bot.yaml" in err and "--force" in err


@pytest.mark.slow
async def test_a_missing_index_hints_a_command_that_works(tmp_path: Path) -> None:
    code, out, err = await in_dir(tmp_path, "init", "--no-index")
    assert code == 0, out + err
    code, out, err = await in_dir(tmp_path, "validate", "bot.yaml")
    assert code == 1
    assert "knowledge_index_not_found" in out
    assert "`chinwag knowledge create bot.yaml`" in out
    # The command the hint names works from here, before the bot is imported.
    code, out, err = await in_dir(tmp_path, "knowledge", "create", "bot.yaml")
    assert code == 0, out + err
    code, out, err = await in_dir(tmp_path, "validate", "bot.yaml")
    assert code == 0, out + err


async def test_the_steps_init_prints_work_from_the_directory_it_names(tmp_path: Path) -> None:
    # A new owner with the default data dir (.chinwag, relative): `chinwag init fjellbua`, then
    # exactly what it prints, `cd fjellbua && chinwag validate bot.yaml`.
    database_url = f"sqlite+aiosqlite:///{tmp_path}/chinwag.db"
    code, out, err = await chinwag(database_url, "init", "fjellbua", cwd=tmp_path)
    assert code == 0, out + err
    assert "next: cd fjellbua && chinwag validate bot.yaml" in out
    code, out, err = await chinwag(
        database_url, "validate", "--json", "bot.yaml", cwd=tmp_path / "fjellbua"
    )
    assert code == 0, out + err
    (report,) = json.loads(out)
    assert [p["code"] for p in report["problems"]] == ["knowledge_index_empty"]
    assert (tmp_path / "fjellbua/.chinwag/lancedb/mybot.lance").is_dir()
    assert not (tmp_path / ".chinwag").exists()  # nothing where the steps will not look
