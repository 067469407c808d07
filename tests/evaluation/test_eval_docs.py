"""docs/eval.md's example, as a user copies it: the bot and the questions, saved as the page
says, give the report the page shows (the route time aside)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import ROOT, chinwag


def _blocks(section: str) -> list[str]:
    return re.findall(r"```\w*\n(.*?)```", section, flags=re.DOTALL)


def _steady(text: str) -> list[str]:
    """The report's lines, with the route time (which changes every run) left out."""
    return [re.sub(r"p50 [\d.]+ ms", "p50 ... ms", line) for line in text.strip().splitlines()]


async def test_the_example_to_copy_prints_what_the_page_shows(tmp_path: Path) -> None:
    page = (ROOT / "docs/eval.md").read_text()
    section = page.split("## An example to copy", 1)[1].split("\n## ", 1)[0]
    bot, questions, shown = _blocks(section)
    (tmp_path / "fjellbua.yaml").write_text(bot)
    (tmp_path / "questions.jsonl").write_text(questions)
    command = re.search(r"`(chinwag eval [^`]+)` prints", section)
    assert command is not None
    args = [str(tmp_path / a) if (tmp_path / a).exists() else a for a in command.group(1).split()]
    code, out, err = await chinwag("sqlite:///unused.db", *args[1:])
    assert code == 0, out + err
    assert _steady(out) == _steady(shown)
