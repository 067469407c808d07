"""Checks of a bot's `handoff:` section that its model cannot make alone: the time zone, the
webhook's host among the bot's allowed hosts, and examples the router can learn."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from chinwag.bots.validation import Problem


def handoff_problems(document: dict[str, Any]) -> list[Problem]:
    """`handoff.hours.timezone` must name a time zone this server knows; the webhook may only
    call an allowed host; `handoff.examples` need a semantic router and the flow name."""
    return _time_zone(document) + _webhook_host(document) + _examples(document)


def _examples(document: dict[str, Any]) -> list[Problem]:
    from chinwag.bots.validation import Problem

    handoff = document.get("handoff")
    if not isinstance(handoff, dict) or not handoff.get("examples"):
        return []
    flows = document.get("flows")
    if isinstance(flows, dict) and "handoff" in flows:
        return [
            Problem(
                "flows.handoff",
                "flow_name_reserved",
                "flows.handoff: the name is the router's built-in flow for handoff.examples",
                "Rename the flow, or move its examples to handoff.examples.",
            )
        ]
    router = document.get("router")
    strategy = router.get("strategy", "all") if isinstance(router, dict) else "all"
    if not handoff.get("enabled"):
        unused = "handoff is not enabled"
        hint = "Set handoff.enabled: true, or remove handoff.examples."
    elif strategy != "semantic":
        unused = f"only the semantic router learns them (router.strategy is {strategy})"
        hint = "Set router.strategy: semantic, or rely on the built-in phrases alone."
    else:
        return []
    return [
        Problem(
            "handoff.examples",
            "handoff_examples_unused",
            f"handoff.examples are not used: {unused}",
            hint,
            severity="warning",
        )
    ]


def _webhook_host(document: dict[str, Any]) -> list[Problem]:
    from chinwag.bots.validation import Problem
    from chinwag.tools.safety import host_allowed

    handoff = document.get("handoff")
    hook = handoff.get("webhook") if isinstance(handoff, dict) else None
    url = hook.get("url") if isinstance(hook, dict) else None
    allowed = document.get("allowed_hosts") or []
    if not isinstance(url, str) or not isinstance(allowed, list):
        return []
    host = (urlsplit(url).hostname or "").lower()
    if not host or host_allowed(host, [str(a) for a in allowed]):
        return []
    return [
        Problem(
            "handoff.webhook.url",
            "webhook_host_not_allowed",
            f"handoff.webhook.url: the host {host} is not in allowed_hosts",
            f"Add {host} to the bot's allowed_hosts, or fix the url.",
        )
    ]


def _time_zone(document: dict[str, Any]) -> list[Problem]:
    from chinwag.bots.validation import Problem

    handoff = document.get("handoff")
    hours = handoff.get("hours") if isinstance(handoff, dict) else None
    zone = hours.get("timezone") if isinstance(hours, dict) else None
    if not isinstance(zone, str) or not zone:
        return []
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            Problem(
                "handoff.hours.timezone",
                "unknown_time_zone",
                f"handoff.hours.timezone: unknown time zone '{zone}'",
                "Use an IANA time zone name, like Europe/Oslo or America/New_York.",
            )
        ]
    return []
