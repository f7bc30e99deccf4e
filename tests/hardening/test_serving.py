"""Real serving: open streams do not starve other requests, keep-alive pings, graceful
shutdown, request size limits and timeouts on outbound calls."""

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess, start_server, stop_server
from tests.fake_llm import FakeLlm, Reply, slow
from tests.hardening.conftest import Keyed, llm_env, wait_for, warm_up


@pytest.fixture(scope="module")
def server(django_db_setup, fake_llm: FakeLlm) -> Iterator[ServerProcess]:
    """Two uvicorn workers answering through the fake LLM, with a short SSE keep-alive."""
    process = start_server(workers=2, extra_env=llm_env(fake_llm, SSE_KEEPALIVE_S="0.5"), log_name="serving")
    yield process
    stop_server(process)


def read_stream(response: httpx.Response) -> list[tuple[str, str]]:
    """(kind, value) per SSE item: ("ping", ""), or (event name, data)."""
    items: list[tuple[str, str]] = []
    event = ""
    for line in response.iter_lines():
        if line.startswith(":"):
            items.append(("ping", ""))
        elif line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            items.append((event, line.split(":", 1)[1].strip()))
    return items


def stream_query(base_url: str, keyed: Keyed, body: dict, timeout: float = 120) -> list[tuple[str, str]]:
    with httpx.stream(
        "POST",
        f"{base_url}/chat/query/",
        json=body,
        headers={**keyed.headers, "Accept": "text/event-stream"},
        timeout=timeout,
    ) as response:
        assert response.status_code == 200, response.read()
        return read_stream(response)


@pytest.mark.heavy
def test_thirty_open_streams_do_not_starve_health_checks_or_json_queries(
    server: ServerProcess, acme: Keyed, fake_llm: FakeLlm
) -> None:
    fake_llm.behave(SLOWSTREAM=slow(25, words=25))
    warm_up(server, acme)
    streams = 30
    results: dict[int, list[tuple[str, str]]] = {}
    finished_at: dict[int, float] = {}

    def open_stream(index: int) -> None:
        body = {"query": f"SLOWSTREAM question {index}", "user_id": f"stream-{index}", "mode": "FAST"}
        results[index] = stream_query(server.base_url, acme, body)
        finished_at[index] = time.monotonic()

    before = len(fake_llm.requests)
    threads = [threading.Thread(target=open_stream, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    # Every stream is admitted and its answer is being generated (the fake LLM has the call).
    assert wait_for(lambda: len(fake_llm.requests) - before >= streams, timeout=60), len(fake_llm.requests) - before

    started = time.monotonic()
    health = httpx.get(f"{server.base_url}/healthz", timeout=10)
    health_s = time.monotonic() - started
    started = time.monotonic()
    answer = httpx.post(
        f"{server.base_url}/chat/query/",
        json={"query": "What is the supply voltage?", "user_id": "json-user", "mode": "FAST"},
        headers=acme.headers,
        timeout=30,
    )
    json_s = time.monotonic() - started
    still_open = streams - len(finished_at)

    for thread in threads:
        thread.join(120)
    assert health.status_code == 200 and health_s < 2, (health.status_code, health_s)
    assert answer.status_code == 200, answer.text
    assert answer.json()["final_answer"].startswith("The supply voltage")
    assert json_s < 8, json_s
    assert still_open == streams, "the JSON answer only came once streams had finished"
    assert sorted(results) == list(range(streams))
    for index, items in results.items():
        events = [kind for kind, _ in items if kind != "ping"]
        assert events[0] == "meta" and events[-1] == "done", (index, events)


@pytest.mark.heavy
def test_an_idle_stream_gets_keep_alive_ping_comments(server: ServerProcess, acme: Keyed, fake_llm: FakeLlm) -> None:
    # The model takes 3 s before its first word; SSE_KEEPALIVE_S is 0.5 on this server.
    fake_llm.behave(IDLE=Reply("Late but fine.", delay_s=3.0))
    items = stream_query(server.base_url, acme, {"query": "IDLE question", "user_id": "idle", "mode": "FAST"})
    kinds = [kind for kind, _ in items]
    first_delta = kinds.index("delta")
    assert kinds.count("ping") >= 3, kinds
    assert kinds[:first_delta].count("ping") >= 3, kinds
    assert kinds[-1] == "done"
    assert json.loads(items[-1][1])["final_answer"] == "Late but fine."


@pytest.mark.heavy
def test_a_json_body_over_the_limit_is_413_on_a_real_server(server: ServerProcess, acme: Keyed) -> None:
    padding = "x" * (300 * 1024)  # MAX_BODY_KB defaults to 256
    response = httpx.post(
        f"{server.base_url}/chat/query/",
        content=json.dumps({"query": "q", "user_id": "big", "padding": padding}),
        headers={**acme.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    from chat.models import Message, RequestHold

    assert not RequestHold.objects.exists() and not Message.objects.exists()


@pytest.mark.heavy
def test_sigterm_lets_in_flight_answers_finish_and_releases_their_holds(acme: Keyed, fake_llm: FakeLlm) -> None:
    from chat.models import Message, RequestHold

    fake_llm.behave(SLOWJSON=slow(4, words=8), SLOWSSE=slow(4, words=8))
    process = start_server(
        workers=2, extra_env=llm_env(fake_llm, GRACEFUL_SHUTDOWN_S="30"), log_name="graceful-shutdown"
    )
    try:
        warm_up(process, acme, requests=6)
        outcome: dict[str, object] = {}

        def ask_json() -> None:
            outcome["json"] = httpx.post(
                f"{process.base_url}/chat/query/",
                json={"query": "SLOWJSON question", "user_id": "json-user", "mode": "FAST"},
                headers=acme.headers,
                timeout=60,
            )

        def ask_stream() -> None:
            body = {"query": "SLOWSSE question", "user_id": "sse-user", "mode": "FAST"}
            outcome["sse"] = stream_query(process.base_url, acme, body, timeout=60)

        before = len(fake_llm.requests)
        threads = [threading.Thread(target=ask_json), threading.Thread(target=ask_stream)]
        for thread in threads:
            thread.start()
        assert wait_for(lambda: len(fake_llm.requests) - before >= 2, timeout=30)
        assert RequestHold.objects.count() == 2
        os.killpg(process.process.pid, signal.SIGTERM)
        for thread in threads:
            thread.join(60)
        process.process.wait(40)
    finally:
        stop_server(process)

    json_response = outcome["json"]
    assert isinstance(json_response, httpx.Response) and json_response.status_code == 200, json_response
    assert json_response.json()["final_answer"] == " ".join(f"word{index}" for index in range(8))
    sse_items = outcome["sse"]
    assert isinstance(sse_items, list) and sse_items[-1][0] == "done", sse_items
    assert not RequestHold.objects.exists()
    for user_id in ("json-user", "sse-user"):
        answer = Message.objects.filter(chat__user_id=user_id, role="assistant").get()
        assert answer.status == Message.Status.COMPLETE, (user_id, answer.status, answer.error)


@pytest.mark.django_db
def test_database_connections_carry_a_statement_and_connect_timeout() -> None:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "30s"
    assert settings.DATABASES["default"]["OPTIONS"]["connect_timeout"] == 5


def test_the_llm_client_has_a_timeout_and_bounded_retries(settings) -> None:
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_TIMEOUT_S = 7.5
    settings.LLM_MAX_RETRIES = 1
    from agent.backends import get_backend

    client = get_backend().client  # type: ignore[attr-defined]
    assert client.timeout == 7.5
    assert client.max_retries == 1
