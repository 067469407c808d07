"""Fakes that ship with chinwag, for its tests and yours."""
