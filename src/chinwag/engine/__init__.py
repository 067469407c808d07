"""The engine: turns a message and a bot's flows into events; no FastAPI, no ORM."""
