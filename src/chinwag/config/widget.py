"""How the bot's chat widget looks and speaks on a shop's pages."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from chinwag.config.strict import (
    URL_PATTERN,
    Strict,
)

WIDGET_STRINGS = (
    "launcher",
    "close",
    "new_chat",
    "send",
    "sources",
    "helpful",
    "not_helpful",
    "comment",
    "thanks",
    "reconnecting",
    "offline",
    "rate_limited",
    "unavailable",
    "unavailable_here",
    "failed",
    "stopped",
    "person",
    "joined",
    "typing",
    "back_to_bot",
    "confirm",
    "cancel",
)
HEX_COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"
WidgetLanguage = Literal["en", "nb"]
WidgetPersistence = Literal["local", "session", "none"]


class WidgetConfig(Strict):
    """What the website chat widget shows; it fetches this at start (no re-paste on change)."""

    title: str | None = Field(None, max_length=80, description="Panel title; unset: the name.")
    greeting: str | None = Field(
        None, max_length=500, description="First bubble of a new chat, from the bot."
    )
    starters: list[Annotated[str, StringConstraints(min_length=1, max_length=120)]] = Field(
        default_factory=list, max_length=6, description="Starter questions shown as buttons."
    )
    accent: str = Field(
        "#7b2340", pattern=HEX_COLOUR_PATTERN, description="Accent colour, `#rrggbb`."
    )
    avatar: str | None = Field(
        None, pattern=URL_PATTERN, description="URL of the bot's avatar image (square)."
    )
    placeholder: str | None = Field(
        None, max_length=120, description="Hint in the empty message box."
    )
    privacy_note: str | None = Field(
        None, max_length=500, description="Small print under the message box."
    )
    language: WidgetLanguage = Field(
        "en", description="`en` or `nb` (Norwegian); a page's `data-lang` wins."
    )
    persistence: WidgetPersistence = Field(
        "local",
        description="Where the chat is remembered: `local` (across visits), `session` (this "
        "tab) or `none`.",
    )
    position: Literal["right", "left"] = Field(
        "right", description="Corner of the launcher; a page's `data-position` wins."
    )
    strings: dict[str, Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=dict,
        description="Overrides of the built-in texts, by name: " + ", ".join(WIDGET_STRINGS) + ".",
    )

    @field_validator("strings")
    @classmethod
    def _known_strings(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(WIDGET_STRINGS))
        if unknown:
            raise ValueError(
                f"unknown widget string {', '.join(unknown)}; known: {', '.join(WIDGET_STRINGS)}"
            )
        return value
