"""What operators see: answer latency by mode on /metrics, and logs that never carry an API key."""

import json
import re

import httpx
import pytest
from django.test import Client

from agent.backends import scripted_responses
from tests.conftest import ServerProcess
from tests.hardening.conftest import Keyed


def _count(text: str, metric: str, mode: str) -> float:
    match = re.search(rf'^{metric}_count{{mode="{mode}"}} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


@pytest.mark.django_db
def test_every_completed_answer_is_observed_in_the_latency_histogram_by_mode(client_with_key, settings) -> None:
    settings.LLM_BACKEND = "scripted"
    before = Client().get("/metrics").text
    with scripted_responses([{"answer": "Fast."}, {"answer": "Agentic."}]):
        for mode in ("FAST", "AGENTIC"):
            response = client_with_key.post(
                "/chat/query/", {"query": "What is VDD?", "user_id": f"u-{mode}", "mode": mode}, format="json"
            )
            assert response.status_code == 200, response.content
    after = Client().get("/metrics").text
    for mode in ("FAST", "AGENTIC"):
        assert (
            _count(after, "voltai_answer_duration_seconds", mode)
            == _count(before, "voltai_answer_duration_seconds", mode) + 1
        )


@pytest.mark.slow
def test_api_keys_never_appear_in_a_live_servers_logs(serve, acme: Keyed) -> None:
    from orgs.services import api_key_create, api_key_revoke

    server: ServerProcess = serve(workers=1, log_name="key-logging", LOG_LEVEL="DEBUG")
    revoked = api_key_create(org=acme.org, label="revoked")
    api_key_revoke(api_key=revoked.api_key)
    # A key is "vt_<prefix>_<secret>"; the secret is base64url, so it may hold "_" itself.
    scheme, prefix, secret = acme.raw_key.split("_", 2)
    wrong_secret = f"{scheme}_{prefix}_{'A' * len(secret)}"
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        requests = [
            client.post("/chat/query/", json={"query": "What is VDD?", "user_id": "u1"}, headers=acme.headers),
            client.post("/chat/query/", json={"query": 7, "user_id": "u1"}, headers=acme.headers),
            client.post(
                "/chat/query/", content=b"{not json", headers={**acme.headers, "Content-Type": "application/json"}
            ),
            client.get("/chat/sessions/", headers=acme.headers),
            client.get("/chat/sessions/", headers={"X-API-KEY": wrong_secret}),
            client.get("/chat/sessions/", headers={"X-API-KEY": revoked.raw_key}),
            client.get(f"/chat/sessions/?api_key={acme.raw_key}", headers={"Authorization": f"Bearer {acme.raw_key}"}),
            client.get("/library/documents/", headers=acme.headers),
        ]
    assert [response.status_code for response in requests] == [200, 400, 400, 200, 401, 401, 401, 200]
    log = server.log()
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    for secret_text in (acme.raw_key, secret, wrong_secret, revoked.raw_key, revoked.raw_key.split("_", 2)[2]):
        assert secret_text not in log
    # Every JSON line carries a request id field (the ones written inside a request, a real id).
    entries = [json.loads(line) for line in lines]
    assert all("request_id" in entry for entry in entries)
