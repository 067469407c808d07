"""Every event type round-trips through JSON, and its SSE frame carries it unchanged."""

from __future__ import annotations

import json
import typing

import pytest

from chinwag.streams import events as ev
from chinwag.streams.sse import encode_frame

SAMPLES: list[ev._Event] = [
    ev.StreamStarted(
        stream_id="st",
        message_id="m",
        session_id="s",
        user_id="u",
        bot_id="vinhuset",
        bot_version=3,
    ),
    ev.RouteDecided(
        flows=["main", "statistics"], scores={"statistics": 0.82}, strategy="semantic", ms=3.2
    ),
    ev.FlowStarted(flow="main"),
    ev.FlowCompleted(flow="main", ms=812.5, usage={"prompt_tokens": 3, "completion_tokens": 9}),
    ev.FlowFailed(flow="statistics", ms=2000.0, code="flow_timeout", message="took too long"),
    ev.ToolStarted(flow="orders", tool="order_status", arguments={"order": "10023"}),
    ev.ToolConfirmation(
        action_id="0f6c2d1e-9a8b-4c7d-8e6f-5a4b3c2d1e0f",
        flow="cancel",
        tool="cancel_order",
        arguments={"order": "10023"},
        text="Shall I cancel order 10023? This cannot be undone.",
    ),
    ev.ToolCompleted(
        flow="orders",
        tool="order_status",
        status="error",
        ms=5001.2,
        http_status=None,
        arguments={"order": "10023", "customer": "[redacted]"},
        code="tool_timeout",
        message="tool 'order_status' did not answer within 5.0 s",
    ),
    ev.RetrievalCompleted(
        flow="main",
        sources=[
            ev.Source(document="wines/barolo.md", title="Barolo", score=0.91, snippet="Nebbiolo…")
        ],
    ),
    ev.MessageDelta(text='Vi har "Barolo" 🍷\nog mer'),
    ev.MessageDeclined(reason="out_of_scope", scores={"out_of_scope": 0.93}),
    ev.HandoffRequested(state="waiting", within_hours=False),
    ev.HandoffOffered(flow="orders", tool="order_status", code="tool_server_error"),
    ev.MessageCompleted(
        message_id="m",
        text="Hei",
        usage=ev.Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3),
    ),
    ev.ErrorEvent(code="llm_unreachable", message="no", hint="start it", retryable=True),
    ev.StreamCompleted(status="failed"),
]


def test_samples_cover_every_event_type() -> None:
    union = typing.get_args(typing.get_args(ev.StreamEvent)[0])
    assert {cls.model_fields["type"].default for cls in union} == {s.type for s in SAMPLES}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.type)
def test_event_round_trips_through_json_and_sse(event: ev._Event) -> None:
    data = event.model_dump_json()
    assert ev.parse_event(data) == event
    assert "[object Object]" not in data
    frame = encode_frame(7, event.type, data).decode()
    lines = frame.split("\n")
    assert lines[0] == "id: 7" and lines[1] == f"event: {event.type}"
    assert lines[2].startswith("data: ") and frame.endswith("\n\n")
    # One data line: newlines inside text are escaped by JSON, never split the frame.
    assert json.loads(lines[2][6:]) == json.loads(data)


def test_unknown_event_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        ev.parse_event('{"type": "message.bogus", "text": "x"}')
