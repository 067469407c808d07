"""The admin console: browser sessions, the queries its screens need, and its static pages."""
