"""`python -m chinwag` runs the CLI."""

from chinwag.cli import main

main()
