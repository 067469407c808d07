"""Database: metadata, engines, the unit of work and migrations."""
