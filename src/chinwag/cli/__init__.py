"""The `chinwag` command: `main.py` parses the command line; each concern has its module."""
