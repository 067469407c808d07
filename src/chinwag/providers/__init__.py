"""Providers: language models (and later embeddings and vector stores) behind small Protocols."""
