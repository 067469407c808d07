"""ASGI middleware: body size limit, CORS by key origin, request metrics."""
