"""Fixtures of the hardening suites: real server processes, a fake remote LLM, committed data.

Server processes see committed rows only, so tests that start one use `transactional_db`
(via `acme`). The LLM is the one thing faked: a local OpenAI-compatible endpoint the real
`openai` backend talks to over HTTP.
"""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.conftest import ServerProcess, start_server, stop_server
from tests.fake_llm import FakeLlm, Reply

if TYPE_CHECKING:  # the models load once Django is set up, after this module
    from orgs.models import ApiKey, Organization

ANSWER = "The supply voltage is 1.8 V to 3.6 V."


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLlm]:
    with FakeLlm(Reply(ANSWER)) as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fake_llm_answers_fast_by_default(request: pytest.FixtureRequest) -> None:
    if "fake_llm" in request.fixturenames:
        request.getfixturevalue("fake_llm").reset()


@dataclass
class Keyed:
    org: "Organization"
    key: "ApiKey"
    raw_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.raw_key}


@pytest.fixture
def acme(transactional_db) -> Keyed:
    """A committed org with an API key, visible to server processes."""
    from orgs.services import api_key_create, org_create

    org = org_create(name="Acme")
    issued = api_key_create(org=org, label="hardening")
    return Keyed(org=org, key=issued.api_key, raw_key=issued.raw_key)


def llm_env(fake: FakeLlm, **extra: str) -> dict[str, str]:
    """Server environment that answers through the fake endpoint with the real openai backend."""
    return {
        "LLM_BACKEND": "openai",
        "LLM_BASE_URL": fake.base_url,
        "LLM_MODEL": "fake",
        "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT_S": "20",
        **extra,
    }


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerProcess]]:
    """Start servers on demand (`serve(workers=2, **env)`); every one is stopped afterwards."""
    started: list[ServerProcess] = []

    def _serve(*, workers: int = 2, log_name: str = "hardening", **env: str) -> ServerProcess:
        server = start_server(workers=workers, extra_env=env, log_name=log_name)
        started.append(server)
        return server

    yield _serve
    for server in started:
        stop_server(server)


def kill_server(server: ServerProcess) -> None:
    """SIGKILL the whole server (master and workers) with no chance to clean up."""
    try:
        os.killpg(server.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    server.process.wait(10)


def warm_up(server: ServerProcess, keyed: Keyed, *, requests: int = 8) -> None:
    """Load the embedding model in every worker: several concurrent questions spread over them."""

    def ask(index: int) -> int:
        return httpx.post(
            f"{server.base_url}/chat/query/",
            json={"query": "warm up", "user_id": f"warm-{index}", "mode": "FAST"},
            headers=keyed.headers,
            timeout=120,
        ).status_code

    with ThreadPoolExecutor(requests) as pool:
        statuses = list(pool.map(ask, range(requests)))
    assert statuses == [200] * requests, statuses


def wait_for(condition: Callable[[], bool], *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def process_alive(process: subprocess.Popen) -> bool:
    return process.poll() is None
