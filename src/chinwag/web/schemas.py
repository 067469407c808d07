"""API model of the widget's settings endpoint."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chinwag.config.widget import WidgetConfig


class WidgetOut(BaseModel):
    """What the widget needs at start: the bot's `widget:` section with its title filled in."""

    bot_id: str
    bot_version: int = Field(description="The active version these settings come from.")
    title: str = Field(description="`widget.title`, or the bot's name.")
    widget: WidgetConfig
    handoff: bool = Field(
        False, description='`handoff.enabled`: the widget offers "Talk to a person".'
    )
