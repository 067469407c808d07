"""Streams: typed events, the durable event log, live fan-out and SSE."""
