"""The demo bot `vinhuset`: a fictional wine shop, answering from the embedded defaults."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from chinwag.bots.activation import check_file
from chinwag.config.bot import BotConfig


def demo_bot_path() -> Path:
    return Path(str(resources.files("chinwag.bots").joinpath("demo/vinhuset.yaml")))


def demo_knowledge_path() -> Path:
    """The documents the demo bot knows, shipped with the package."""
    return demo_bot_path().parent / "knowledge"


# The origin the shipped documents' URLs are written with (`url: http://127.0.0.1:8000/#hours`).
WRITTEN_ORIGIN = "http://127.0.0.1:8000"


def demo_knowledge_on(origin: str, into: Path) -> Path:
    """Copies of the demo's documents in `into`, their URLs on `origin` (the host and port the
    demo serves its shop page on), so that a source chip opens the page the demo serves."""
    for file in sorted(demo_knowledge_path().iterdir()):
        data = file.read_bytes()
        (into / file.name).write_bytes(data.replace(WRITTEN_ORIGIN.encode(), origin.encode()))
    return into


def demo_answers_path() -> Path:
    """The demo's curated answers (CSV, the format of `chinwag answers import`)."""
    return demo_bot_path().parent / "answers.csv"


def demo_bot_config() -> BotConfig:
    """The demo bot's configuration; its YAML is part of the package and always valid."""
    report = check_file(demo_bot_path())
    assert report.config is not None, [p.message for p in report.errors]
    return report.config
