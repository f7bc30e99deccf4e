"""Fixtures for chat tests that run against a live server process and a fake model endpoint."""

from collections.abc import Iterator

import pytest

from tests.conftest import ServerProcess, start_server, stop_server
from tests.fake_llm import FakeLlm

WORKERS = 3


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLlm]:
    with FakeLlm() as fake:
        yield fake


@pytest.fixture
def llm(fake_llm: FakeLlm) -> Iterator[FakeLlm]:
    """The module's fake model, reset: answers not held, no failure."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, fake_llm: FakeLlm) -> Iterator[ServerProcess]:
    """One server for the module: tests only change rows, which every worker reads fresh."""
    with django_db_blocker.unblock():
        process = start_server(
            workers=WORKERS,
            log_name="chat-live",
            extra_env={
                "LLM_BACKEND": "openai",
                "LLM_BASE_URL": fake_llm.base_url,
                "LLM_MODEL": "fake",
                "LLM_MAX_RETRIES": "0",
                "SSE_KEEPALIVE_S": "0.3",
            },
        )
    try:
        yield process
    finally:
        stop_server(process)
