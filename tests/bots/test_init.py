"""A new owner's first steps: `chinwag init`, then `validate`, with hints that work from there."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml


async def chinwag(cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in `cwd` with its own SQLite database and data dir: (code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG_")}
    env["CHINWAG_DATABASE_URL"] = f"sqlite+aiosqlite:///{cwd}/chinwag.db"
    env["CHINWAG_DATA_DIR"] = str(cwd / "data")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chinwag",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_init_writes_a_starter_bot_that_validates(tmp_path: Path) -> None:
    code, out, err = await chinwag(tmp_path, "init", "--id", "fjellbua", "--name", "Fjellbua")
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
    code, out, err = await chinwag(tmp_path, "validate", "--json", "bot.yaml")
    assert code == 0, out + err
    assert err == ""
    (report,) = json.loads(out)
    assert report["ok"] is True
    assert [p["code"] for p in report["problems"]] == ["knowledge_index_empty"]
    assert "`chinwag ingest bot.yaml PATH…`" in report["problems"][0]["hint"]

    code, out, err = await chinwag(tmp_path, "init")
    assert code == 1 and "bot.yaml" in err and "--force" in err


async def test_a_missing_index_hints_a_command_that_works(tmp_path: Path) -> None:
    code, out, err = await chinwag(tmp_path, "init", "--no-index")
    assert code == 0, out + err
    code, out, err = await chinwag(tmp_path, "validate", "bot.yaml")
    assert code == 1
    assert "knowledge_index_not_found" in out
    assert "`chinwag knowledge create bot.yaml`" in out
    # The command the hint names works from here, before the bot is imported.
    code, out, err = await chinwag(tmp_path, "knowledge", "create", "bot.yaml")
    assert code == 0, out + err
    code, out, err = await chinwag(tmp_path, "validate", "bot.yaml")
    assert code == 0, out + err
