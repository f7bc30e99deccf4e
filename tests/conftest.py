"""Fixtures shared by the whole suite.

The suite runs against its own embedded PostgreSQL (under var/test), never SQLite.
Personas: `org` with `owner` (admin) and `member`; `other_org` with `stranger`.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("VOLTAI_DATA_DIR", str(ROOT / "var" / "test"))
os.environ.setdefault("VOLTAI_TEST_CLOCK_FILE", str(ROOT / "var" / "test" / "clock_offset"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx
import pytest
from django.conf import settings
from rest_framework.test import APIClient

DATASHEETS = ROOT.parent / "shared" / "datasheets"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def _reset_test_clock() -> Iterator[None]:
    path = Path(settings.TEST_CLOCK_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("0")
    yield
    path.write_text("0")


@pytest.fixture
def org(db):
    from orgs.services import org_create

    return org_create(name="Acme")


@pytest.fixture
def other_org(db):
    from orgs.services import org_create

    return org_create(name="Globex")


@pytest.fixture
def issued_key(org):
    from orgs.services import api_key_create

    return api_key_create(org=org, label="tests")


@pytest.fixture
def raw_key(issued_key) -> str:
    return issued_key.raw_key


@pytest.fixture
def other_raw_key(other_org) -> str:
    from orgs.services import api_key_create

    return api_key_create(org=other_org, label="tests").raw_key


@pytest.fixture
def client_with_key(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client


@pytest.fixture
def owner(org):
    from orgs.services import member_create

    return member_create(org=org, username="owner", password="owner-pass-123", admin=True).user


@pytest.fixture
def member(org):
    from orgs.services import member_create

    return member_create(org=org, username="member", password="member-pass-123").user


@pytest.fixture
def stranger(other_org):
    from orgs.services import member_create

    return member_create(org=other_org, username="stranger", password="stranger-pass-123").user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database pytest-django made, for server processes a test starts."""
    from django.db import connection

    params = connection.get_connection_params()
    host = params.get("host", "")
    return f"postgresql://{params.get('user', 'postgres')}:@/{connection.settings_dict['NAME']}?host={host}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


def server_env(**extra: str) -> dict[str, str]:
    """Environment for a server, worker or command process that uses the test database."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "SECRET_KEY": "test-secret-key-for-live-server",
        **extra,
    }


def manage_py(*args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
    """Run manage.py in a child process against the test database (sees committed data only)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ServerProcess:
    def __init__(self, process: subprocess.Popen, base_url: str, log_path: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    *, workers: int = 2, extra_env: dict[str, str] | None = None, log_name: str = "server"
) -> ServerProcess:
    """Start `manage.py serve` on a free port against the test database; wait for /healthz."""
    port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{log_name}-{port}.log"
    env = server_env(APP_BASE_URL=f"http://127.0.0.1:{port}", **(extra_env or {}))
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=open(log_path, "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return ServerProcess(process, base_url, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM a process started with start_new_session=True and its children; SIGKILL after `timeout`."""
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stop_server(server: ServerProcess) -> None:
    stop_process_group(server.process)


@pytest.fixture
def live_server_process(transactional_db) -> Iterator[ServerProcess]:
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def datasheet_snapshots(django_db_setup, django_db_blocker):
    from tests.datasheets import snapshot_ingestion

    with django_db_blocker.unblock():
        return snapshot_ingestion()


@pytest.fixture
def datasheets_org(datasheet_snapshots, db):
    """An org "Datasheets" holding all ten real datasheets, ingested, in five topics."""
    from orgs.models import Organization
    from tests.datasheets import DATASHEET_ORG, restore_library

    existing = Organization.objects.filter(name=DATASHEET_ORG).first()
    return existing or restore_library(datasheet_snapshots)
