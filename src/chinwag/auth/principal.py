"""Who is calling: an admin key, a bot's secret or publishable key, or one end user's token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chinwag.errors import Forbidden, NotFound

PrincipalKind = Literal["admin", "secret", "publishable", "user", "operator"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an admin key, a bot's secret or publishable key, or one end user's token."""

    kind: PrincipalKind
    key_id: str
    bot_id: str | None  # None for admin keys
    user_id: str | None = None  # the end user's external id, for tokens
    # An operator (signed in by email and password; `key_id` is the operator's id): the bots
    # they answer for, or None for an operator with the `admin` role (every bot).
    operator_bots: frozenset[str] | None = None

    def require_admin(self) -> None:
        if self.kind != "admin":
            raise Forbidden("this endpoint needs an admin key")

    def require_bot(self, bot_id: str, *, kinds: tuple[PrincipalKind, ...]) -> None:
        """Allow admin keys and `kinds` of this bot: 403 for other kinds, 404 for other bots."""
        if self.kind == "admin":
            return
        if self.kind not in kinds:
            raise Forbidden(f"a {_NAMES[self.kind]} may not use this endpoint")
        if self.kind == "operator":
            if not self.answers_for(bot_id):
                raise NotFound(f"bot '{bot_id}' does not exist")
            return
        if self.bot_id != bot_id:
            raise NotFound(f"bot '{bot_id}' does not exist")

    def may_read(self, *, bot_id: str, user_id: str) -> bool:
        """Whether a row of this bot and end user (external id) is visible to the caller."""
        if self.kind == "admin":
            return True
        if self.kind == "operator":
            return self.answers_for(bot_id)
        if self.bot_id != bot_id:
            return False
        return self.kind == "secret" or (self.kind == "user" and self.user_id == user_id)

    def answers_for(self, bot_id: str) -> bool:
        """An operator's bots: those assigned, or every bot for the `admin` role."""
        return self.operator_bots is None or bot_id in self.operator_bots

    def require_reader(self) -> None:
        """Reading messages and streams: anyone but a bare publishable key."""
        if self.kind == "publishable":
            raise Forbidden("a publishable key only gets end-user tokens; chat with the token")


_NAMES = {
    "admin": "admin key",
    "secret": "bot secret key",
    "publishable": "publishable key",
    "user": "end-user token",
    "operator": "signed-in operator",
}
