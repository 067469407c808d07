"""API models for keys and end-user tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chinwag.auth.keys import KeyInfo
from chinwag.auth.operators import MIN_PASSWORD
from chinwag.external_ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from chinwag.timestamps import UtcDatetime

# One @, something on each side, a dot in the domain, no spaces: a typo is refused, and what
# is stored is only ever shown (never mailed to by chinwag).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["admin", "secret", "publishable"]
    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    bot_id: str | None = Field(
        None, min_length=1, max_length=64, description="The bot (secret and publishable keys)."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Sites that may use a publishable key, e.g. https://shop.example.",
    )


class KeyOut(BaseModel):
    id: str
    kind: Literal["admin", "secret", "publishable"]
    bot_id: str | None
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    allowed_origins: list[str]
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None

    @classmethod
    def of(cls, info: KeyInfo) -> KeyOut:
        return cls(
            id=info.id,
            kind=info.kind,
            bot_id=info.bot_id,
            name=info.name,
            prefix=info.prefix,
            allowed_origins=list(info.allowed_origins),
            created_at=info.created_at,
            revoked_at=info.revoked_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
    identity_secret: str | None = Field(
        None,
        description="Publishable keys: the secret your server signs user ids with "
        "(user_hash = hex HMAC-SHA256(identity_secret, user_id)). Keep it off the page.",
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        pattern=EXTERNAL_ID_PATTERN,
        description="Your site's id for a signed-in visitor; needs user_hash. Omitted: a new "
        "anonymous user.",
    )
    user_hash: str | None = Field(
        None,
        min_length=64,
        max_length=64,
        pattern=r"^[0-9a-fA-F]+$",
        description="hex HMAC-SHA256(identity secret, user_id), computed by your server.",
    )
    display_name: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="How the console names this user (e.g. 'Kari Nordmann'); needs user_id "
        "and user_hash. Stored with the user; omitted: what was stored stays.",
    )
    email: str | None = Field(
        None,
        max_length=254,
        pattern=EMAIL_PATTERN,
        description="The user's email, shown in the console; needs user_id and user_hash.",
    )


class TokenOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>` to chat.")
    bot_id: str
    user_id: str
    expires_at: UtcDatetime
    display_name: str | None = None
    email: str | None = None


class OperatorIn(BaseModel):
    """A new operator: a person who answers handed-over conversations in the console."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown to visitors.")
    email: str = Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN)
    password: str = Field(
        min_length=MIN_PASSWORD, max_length=1000, description="At least 10 characters."
    )
    role: Literal["admin", "operator"] = Field(
        "operator", description="operator: the bots listed; admin: every bot, and operators."
    )
    bots: list[str] = Field(default_factory=list, max_length=200)


class OperatorOut(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["admin", "operator"]
    bots: list[str] | None = Field(description="The bots they answer for; null: every bot.")
    created_at: UtcDatetime


class OperatorList(BaseModel):
    operators: list[OperatorOut]


class LockoutOut(BaseModel):
    """A console sign-in refused for too many attempts."""

    email: str = Field(description="The email tried (as typed).")
    client_ip: str
    scope: str = Field(description="The limit reached: `operator email` or `sign-in client IP`.")
    created_at: UtcDatetime


class LockoutList(BaseModel):
    lockouts: list[LockoutOut]
