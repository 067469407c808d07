"""The public API's routes, one module per concern; each calls that concern's service."""
