"""Language-model providers."""
