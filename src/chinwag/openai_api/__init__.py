"""The OpenAI-compatible chat API: `model` is a bot id; answers come from the bot's flows."""
