"""Human handoff: a person from the shop takes over a conversation and hands it back."""
