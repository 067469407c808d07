"""The bots table (one row per bot, pointing at its active version) and every saved version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chinwag.db.base import Base, utcnow


class Bot(Base):
    __tablename__ = "bots"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)  # the active version's configuration
    version: Mapped[int] = mapped_column(Integer, default=1)  # the active version
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BotVersion(Base):
    """A saved configuration; never changed once written. Messages record which one answered."""

    __tablename__ = "bot_versions"

    bot_id: Mapped[str] = mapped_column(ForeignKey("bots.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # The YAML the owner saved it from, comments and layout kept; None: saved as JSON.
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
