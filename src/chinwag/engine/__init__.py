"""The engine: turns a message and a bot's flows into events. Imports neither FastAPI nor the ORM."""
