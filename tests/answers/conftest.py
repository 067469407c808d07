"""The key fixtures of the access tests, for the curated answers' access rules."""

from tests.auth.conftest import keys  # noqa: F401
