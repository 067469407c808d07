"""A bot owner's labelled questions: routing and retrieval figures (`chinwag eval`)."""
