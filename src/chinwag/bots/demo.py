"""The demo bot `vinhuset`: a fictional wine shop, answering from the embedded defaults."""

from __future__ import annotations

from importlib import resources

import yaml

from chinwag.bots.config import BotConfig


def demo_bot_config() -> BotConfig:
    text = resources.files("chinwag.bots").joinpath("demo/vinhuset.yaml").read_text("utf-8")
    return BotConfig.model_validate(yaml.safe_load(text))
