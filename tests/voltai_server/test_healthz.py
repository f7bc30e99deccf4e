import httpx
import pytest
from django.test import Client

from tests.conftest import ServerProcess


@pytest.mark.django_db
def test_healthz_reports_the_database_and_pgvector() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"].startswith("pgvector ")


@pytest.mark.slow
def test_serve_answers_healthz_from_a_real_multi_worker_server(live_server_process: ServerProcess) -> None:
    response = httpx.get(f"{live_server_process.base_url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["X-Request-ID"]
    # uvicorn, not Django's development server
    assert "uvicorn" in response.headers.get("server", "").lower()
