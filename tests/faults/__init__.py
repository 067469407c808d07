"""Fault injection: the scenarios of `make faults` (python -m tests.faults) and what the other
fault tests share (followers that reconnect, server processes, a Redis of one's own)."""
