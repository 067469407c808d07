"""Curated answers: a bot's approved answers to questions, served when a message matches one."""
