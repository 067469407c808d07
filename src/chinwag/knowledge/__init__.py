"""A bot's knowledge: loading documents, chunking, ingesting them into a vector store, searching."""
