"""API models for curated answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chinwag.timestamps import UtcDatetime

QUESTION_MAX = 2000
ANSWER_MAX = 20_000


class CuratedSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300)
    url: str | None = Field(None, max_length=2000, pattern=r"^https?://\S+$")


class CuratedAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    answer: str = Field(min_length=1, max_length=ANSWER_MAX)
    sources: list[CuratedSource] = Field(default_factory=list, max_length=20)
    enabled: bool = True
    message_id: str | None = Field(
        None, max_length=36, description="The assistant message this answer corrects."
    )


class CuratedAnswerPatch(BaseModel):
    """Any of the fields; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(None, min_length=1, max_length=QUESTION_MAX)
    answer: str | None = Field(None, min_length=1, max_length=ANSWER_MAX)
    sources: list[CuratedSource] | None = Field(None, max_length=20)
    enabled: bool | None = None


class CuratedAnswerOut(BaseModel):
    id: str
    bot_id: str
    question: str
    answer: str
    sources: list[CuratedSource]
    enabled: bool
    message_id: str | None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class CuratedAnswerList(BaseModel):
    items: list[CuratedAnswerOut]
