"""Conversations: end users, chat sessions and messages."""
