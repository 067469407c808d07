"""What every part of a bot's configuration shares: strict models (an unknown key is an error,
and a parsed configuration is frozen) and the patterns of ids, names, URLs and rate limits."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

BOT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
FLOW_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$"

LLMProvider = Literal["openai", "local"]
EmbeddingProvider = Literal["sentence-transformers", "openai"]
RouterStrategy = Literal["semantic", "keywords", "llm", "all"]
VectorStoreName = Literal["lancedb", "qdrant", "pinecone"]
SearchMode = Literal["vector", "keyword", "hybrid"]
FlowName = Annotated[str, StringConstraints(pattern=FLOW_NAME_PATTERN)]
RATE_LIMIT_PATTERN = r"^[0-9]+ ?(/|per) ?([0-9]+ ?)?(second|minute|hour|day)s?$"
RateLimitText = Annotated[str, StringConstraints(pattern=RATE_LIMIT_PATTERN)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
