"""Generations: accepting a message and running its answer as a task owned by the server."""
