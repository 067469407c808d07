"""The HTTP API: what a running server holds, its dependencies, middleware, errors and routes."""
