import httpx
import pytest
from django.test import Client

from tests.conftest import ServerProcess


@pytest.mark.django_db
def test_readyz_is_ok_when_every_migration_is_applied() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["migrations"] == "applied"


@pytest.mark.django_db
def test_metrics_count_requests_by_route_and_errors_by_code(org) -> None:
    client = Client()
    client.get("/healthz")
    client.get("/chat/sessions/", headers={"X-API-KEY": "vt_nope"})  # a key-protected endpoint
    text = client.get("/metrics").text
    assert 'voltai_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in text
    assert 'voltai_api_errors_total{code="authentication_failed"}' in text
    assert 'voltai_ingestion_queue_depth{status="queued"} 0.0' in text
    assert "voltai_ingestion_pages_per_second" in text


@pytest.mark.slow
def test_metrics_add_up_every_worker_of_a_real_server(live_server_process: ServerProcess) -> None:
    for _ in range(20):
        httpx.get(f"{live_server_process.base_url}/healthz", timeout=5)
    text = httpx.get(f"{live_server_process.base_url}/metrics", timeout=5).text
    line = next(row for row in text.splitlines() if row.startswith('voltai_http_requests_total{endpoint="/healthz"'))
    # 20 here plus the start-up probe(s), whichever worker served them.
    assert float(line.rsplit(" ", 1)[1]) >= 20


@pytest.mark.django_db
def test_an_unknown_api_path_gets_404_in_the_error_shape() -> None:
    response = Client().get("/library/documents/nope/deeper/more")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
