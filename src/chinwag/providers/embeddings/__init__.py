"""Embedding models: the embedded sentence-transformers default and OpenAI-compatible servers."""
