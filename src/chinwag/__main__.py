"""`python -m chinwag` runs the CLI."""

from chinwag.cli.main import main

main()
