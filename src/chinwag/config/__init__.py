"""The bot configuration model and its value types: the bottom of the import graph.

Everything that reads a bot's configuration (settings, providers, the engine, knowledge, rate
limiting, and `bots/` above them all) imports it from here; it imports only pydantic.
"""
