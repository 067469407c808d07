"""Which store holds a bot's index: built from its knowledge settings and the server's."""

from __future__ import annotations

import os

from chinwag.config.bot import KnowledgeConfig
from chinwag.errors import KnowledgeStoreUnavailable
from chinwag.providers.vectorstores.base import VectorStore
from chinwag.settings import Settings


def open_store(config: KnowledgeConfig, settings: Settings) -> VectorStore:
    """The store for these settings; embedded stores keep their files under the data dir."""
    if config.store == "qdrant":
        from chinwag.providers.vectorstores.qdrant_store import QdrantStore

        if config.url:
            return QdrantStore(url=config.url, api_key=_api_key(config, required=False))
        return QdrantStore(path=settings.data_dir / "qdrant")
    if config.store == "pinecone":
        from chinwag.providers.vectorstores.pinecone_store import PineconeStore

        return PineconeStore(api_key=_api_key(config, required=True) or "", host=config.url)
    from chinwag.providers.vectorstores.lancedb_store import LanceDBStore

    return LanceDBStore(settings.data_dir / "lancedb")


def _api_key(config: KnowledgeConfig, *, required: bool) -> str | None:
    name = config.api_key_env or ("PINECONE_API_KEY" if config.store == "pinecone" else None)
    value = os.environ.get(name) if name else None
    if required and not value:
        raise KnowledgeStoreUnavailable(
            f"{config.store} needs an API key: environment variable {name} is not set",
            hint=f"Set {name} on the server, or point knowledge.api_key_env at the variable "
            "that holds the key.",
        )
    return value
