"""Declarative base with a naming convention, so migrations name every constraint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    """A random, unguessable id (UUID4, 122 random bits)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def import_all_models() -> None:
    """Register every table on Base.metadata (Alembic and create_all need them all)."""
    from chinwag.answers import models as _answers  # noqa: F401
    from chinwag.auth import models as _auth  # noqa: F401
    from chinwag.bots import models as _bots  # noqa: F401
    from chinwag.conversations import models as _conversations  # noqa: F401
    from chinwag.knowledge import models as _knowledge  # noqa: F401
    from chinwag.streams import models as _streams  # noqa: F401
