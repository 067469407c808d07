"""chinwag: a self-hosted backend for retrieval-augmented chatbots."""

__version__ = "0.1.0"
