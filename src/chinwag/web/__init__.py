"""The website face of chinwag: the chat widget script and the demo shop page."""
