"""Bots: configuration, storage and the demo bot."""
