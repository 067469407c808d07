"""Tools: calls a bot makes to live systems (HTTP), safely; docs/tools.md."""
