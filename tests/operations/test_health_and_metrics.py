"""/readyz checks each bot's providers; /metrics counts requests, streams, TTFT, tokens, flows."""

from __future__ import annotations

import httpx

from chinwag.config.llm import LLMConfig
from chinwag.settings import Settings
from chinwag.testing.fake_llm import FakeLLM, free_port
from tests.conftest import RunningServer, plain_demo_bot, run_server
from tests.helpers import accept, wait_finished


async def test_readyz_reports_each_bots_providers(server: RunningServer) -> None:
    ready = await server.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    bot = ready.json()["checks"]["bots"]["bots"]["vinhuset"]
    assert bot["ok"] and bot["providers"][0]["url"] == server.settings.llm_base_url


async def test_readyz_is_503_when_a_bots_llm_is_unreachable(make_settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    bot = plain_demo_bot().model_copy(
        update={"id": "dead", "llm": LLMConfig(provider="openai", base_url=dead, model="m")}
    )
    async with (
        run_server(make_settings, bot=bot) as server,
        httpx.AsyncClient(base_url=server.base_url) as anonymous,
    ):
        ready = await anonymous.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"]["ok"] and checks["schema"]["ok"]
    assert not checks["bots"]["bots"]["dead"]["ok"]
    probe = checks["bots"]["bots"]["dead"]["providers"][0]
    assert probe["url"] == dead and "Connect" in probe["error"], probe


async def test_metrics_count_requests_streams_and_flows(
    server: RunningServer, fake_llm: FakeLLM
) -> None:
    fake_llm.behaviour.tokens = 3
    accepted = (await accept(server.client, {"message": "Hei"})).json()
    await wait_finished(server.client, accepted["assistant_message_id"])
    await server.client.get("/v1/messages/nope")
    await server.client.get("/v1/no/such/path")
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        text = (await anonymous.get("/metrics")).text
    assert (
        'chinwag_http_requests_total{method="POST",route="/v1/bots/{bot_id}/messages",'
        'status="202"} 1.0' in text
    )
    # Labelled by template, never by the id a caller sent; no route: "unmatched".
    assert (
        'chinwag_http_requests_total{method="GET",route="/v1/messages/{message_id}",'
        'status="404"} 1.0' in text
    )
    assert 'route="unmatched",status="404"} 1.0' in text
    assert "nope" not in text and "no/such" not in text
    assert 'chinwag_errors_total{code="not_found"} 2.0' in text
    assert 'chinwag_time_to_first_token_seconds_count{bot="vinhuset"} 1.0' in text
    assert 'chinwag_generation_seconds_count{bot="vinhuset",status="completed"} 1.0' in text
    assert 'chinwag_tokens_total{bot="vinhuset",kind="completion"}' in text
    assert 'chinwag_flow_seconds_count{bot="vinhuset",flow="main",status="completed"} 1.0' in text
    assert "chinwag_open_streams 0.0" in text
