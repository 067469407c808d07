"""Vector stores holding knowledge indexes: LanceDB (embedded default), Qdrant, Pinecone."""
