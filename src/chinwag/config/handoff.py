"""A bot's `handoff:` section: whether a visitor may ask for a person, when people answer, and
what the visitor is told (docs/handoff.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

HandoffLanguage = Literal["en", "nb"]
HandoffText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
HOURS_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$"
OpeningHours = Annotated[str, StringConstraints(pattern=HOURS_PATTERN)]


EmailAddress = Annotated[
    str, StringConstraints(pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$", max_length=254)
]


class HandoffHours(BaseModel):
    """When people answer, in one time zone; a day left unset has nobody."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(
        min_length=1, max_length=64, description="An IANA time zone, e.g. `Europe/Oslo`."
    )
    weekdays: OpeningHours | None = Field(
        None, description="Monday to Friday, `HH:MM-HH:MM` (local time)."
    )
    saturday: OpeningHours | None = Field(None, description="Saturday, `HH:MM-HH:MM`.")
    sunday: OpeningHours | None = Field(None, description="Sunday, `HH:MM-HH:MM`.")


class HandoffWebhook(BaseModel):
    """Where chinwag POSTs a signed notice when a conversation starts waiting for a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        pattern=r"^https?://[^/?#\s]+",
        max_length=2000,
        description="The receiver (`https://hooks.shop.example/chinwag`); its host must be in "
        "the bot's `allowed_hosts`.",
    )
    secret_env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        max_length=100,
        description="The environment variable holding the signing secret (never the secret "
        "itself); the body is signed with HMAC-SHA256.",
    )
    allow_private: bool = Field(
        False,
        description="`true`: the receiver may be on a private or loopback address (your own "
        "network).",
    )


class HandoffConfig(BaseModel):
    """Human handoff: a visitor asks for a person, an operator takes over (docs/handoff.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description="`true`: a visitor who asks for a person (in words, or the widget's button) "
        "is put in the operators' queue and the bot stays silent until handed back.",
    )
    hours: HandoffHours | None = Field(
        None,
        description="When people answer (`{timezone, weekdays, saturday, sunday}`); unset: always.",
    )
    joining: dict[HandoffLanguage, HandoffText] = Field(
        default_factory=dict,
        description="Reply to a request within the hours, by language (`en`, `nb`); unset: a "
        "built-in sentence saying a person will join.",
    )
    claim_timeout_minutes: float | None = Field(
        15,
        ge=0.05,
        le=1440,
        description="A waiting conversation nobody claims within this many minutes offers the "
        "visitor the ticket form (leave an email); it stays in the inbox. null: never.",
    )
    ticket_consent: dict[HandoffLanguage, HandoffText] = Field(
        default_factory=dict,
        description="The consent the ticket form asks for, by language; unset: a built-in "
        "sentence (the shop keeps the email and the conversation to answer).",
    )
    webhook: HandoffWebhook | None = Field(
        None,
        description="A signed POST to your system when a conversation starts waiting "
        "(`{url, secret_env, allow_private}`), retried with backoff; unset: none.",
    )
    email: list[EmailAddress] = Field(
        default_factory=list,
        max_length=20,
        description="Addresses told by email when a conversation starts waiting, through the "
        "server's SMTP server (CHINWAG_SMTP_URL); sent from the outbox like the webhook, "
        "retried with backoff; empty: no email.",
    )
    after_hours: dict[HandoffLanguage, HandoffText] = Field(
        default_factory=dict,
        description="Reply to a request outside the hours, by language; unset: a built-in "
        "sentence asking for an email address.",
    )
    offer_when_unanswerable: bool = Field(
        True,
        description="`grounded` answer policy: a message declined as unanswerable ends with "
        "an offer of a person (`offer`), and its `message.declined` event carries "
        '`offer: "handoff"` (the widget shows a "Talk to a person" button under it).',
    )
    offer_when_tool_fails: bool = Field(
        True,
        description="A tool call that fails (timeout, an error status, a response that is "
        "not JSON…), a routed flow's or one main makes by function calling, ends the answer "
        "with the same offer of a person "
        '(`offer`), and a `handoff.offered` event (the widget shows a "Talk to a person" '
        "button under the answer).",
    )
    offer: dict[HandoffLanguage, HandoffText] = Field(
        default_factory=dict,
        description="The offer added to an unanswerable decline (or after a failed tool "
        "call), by language; unset: a built-in sentence.",
    )
    examples: list[HandoffText] = Field(
        default_factory=list,
        max_length=200,
        description="Messages that ask for a person, in your visitors' words (any language). "
        "With `router.strategy: semantic` the router learns them, with built-in English and "
        "Norwegian ones and against `main`'s examples, as a built-in `handoff` flow: a message "
        "it chooses for `handoff` asks for a person like one with the built-in phrases. "
        "Empty: the built-in phrases only.",
    )
    threshold: float = Field(
        0.6,
        ge=0,
        le=1,
        description="`examples`: the least probability of the learnt `handoff` flow to ask "
        "for a person; above the router's flows' (0.4), since a wrong one silences the bot.",
    )
