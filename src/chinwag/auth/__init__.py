"""API keys, end-user tokens, identity verification and the authorization rules."""
