"""API keys: only a SHA-256 hash of each key is stored; the key itself is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chinwag.db.base import Base, utcnow


class ApiKey(Base):
    """An admin key (every bot), or a bot's secret (server-side) or publishable (widget) key."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("kind IN ('admin', 'secret', 'publishable')", name="kind"),
        CheckConstraint("(kind = 'admin') = (bot_id IS NULL)", name="bot_scope"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    bot_id: Mapped[str | None] = mapped_column(ForeignKey("bots.id"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, enough to recognise it in a list; never enough to use it.
    prefix: Mapped[str] = mapped_column(String(24))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_origins: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ConsoleSession(Base):
    """A browser signed in to the console, with an API key or as an operator (exactly one);
    it ends at expiry, sign-out, the key's revocation or the operator's removal."""

    __tablename__ = "console_sessions"
    __table_args__ = (
        CheckConstraint("(key_id IS NULL) <> (operator_id IS NULL)", name="one_holder"),
    )

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=True, index=True
    )
    operator_id: Mapped[str | None] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Operator(Base):
    """A person who answers handed-over conversations in the console: signs in by email and
    password (argon2 hash); `operator` answers only its assigned bots, `admin` every bot's."""

    __tablename__ = "operators"
    __table_args__ = (CheckConstraint("role IN ('admin', 'operator')", name="role"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Removed operators keep their row: the messages they wrote still name them.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class OperatorBot(Base):
    """A bot an operator answers for."""

    __tablename__ = "operator_bots"

    operator_id: Mapped[str] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"), primary_key=True, index=True)


class SignInLockout(Base):
    """A console sign-in refused for too many attempts (the audit of lockouts): one row per
    lockout, by the email tried and the client's address."""

    __tablename__ = "sign_in_lockouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    client_ip: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(40))  # which limit: per email or per client IP
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
