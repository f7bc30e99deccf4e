"""Faults, each on a real server process: the database restarting, the LLM endpoint timing out
or failing, a client leaving mid-stream, the web process killed with SIGKILL.

A worker killed mid-ingestion is covered where ingestion lives: tests/library/test_worker_processes.py::
test_a_worker_killed_mid_document_is_finished_by_the_next_one_with_one_set_of_chunks (also in `make test-heavy`).
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from django.conf import settings
from django.db import connection

from core import clock
from tests.conftest import ServerProcess
from tests.fake_llm import FakeLlm, Reply, slow
from tests.hardening.conftest import Keyed, kill_server, llm_env, wait_for, warm_up

if TYPE_CHECKING:  # the models load once Django is set up, after this module
    from chat.models import Message

pytestmark = pytest.mark.heavy


def ask(server: ServerProcess, keyed: Keyed, query: str, user_id: str, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/chat/query/",
        json={"query": query, "user_id": user_id, "mode": "FAST"},
        headers=keyed.headers,
        timeout=timeout,
    )


def holds_of(keyed: Keyed) -> int:
    from chat.models import RequestHold

    return RequestHold.objects.filter(org=keyed.org).count()


def last_turn(user_id: str) -> tuple["Message", "Message"]:
    from chat.models import Message

    question = Message.objects.filter(chat__user_id=user_id, role="user").latest("id")
    answer = Message.objects.filter(chat__user_id=user_id, role="assistant").latest("id")
    return question, answer


def test_a_database_restart_gives_503_service_unavailable_then_recovers_without_a_server_restart(
    serve: Callable[..., ServerProcess], acme: Keyed, fake_llm: FakeLlm
) -> None:
    from voltai_server.embedded_db import embedded_database_url, embedded_server_stop

    if not settings.EMBEDDED_DATABASE:
        pytest.skip("restarts the embedded PostgreSQL; DATABASE_URL points elsewhere")
    server = serve(log_name="db-restart", **llm_env(fake_llm, DB_CONNECT_TIMEOUT="2"))
    warm_up(server, acme, requests=4)
    statuses: list[tuple[float, str, int, str]] = []
    stop = threading.Event()
    worker = threading.Thread(target=_traffic, args=(server, acme, stop, statuses))
    worker.start()
    data_dir = Path(settings.DATA_DIR)
    try:
        time.sleep(2)
        connection.close()  # pytest's own connection would die with the server anyway
        stopped_at = time.monotonic()
        embedded_server_stop(data_dir)
        time.sleep(4)
        restarted_at = time.monotonic()
        embedded_database_url(data_dir)
        time.sleep(6)
    finally:
        stop.set()
        worker.join(60)
        embedded_database_url(data_dir)  # whatever happened, the rest of the suite needs it
    connection.close()  # reconnect pytest's own connection to the restarted server

    assert server.process.poll() is None, "the server died with the database"
    during = [row for row in statuses if stopped_at + 1 < row[0] < restarted_at]
    after = [row for row in statuses if row[0] > restarted_at + 3]
    assert during, statuses
    for _, name, status, error in during:
        assert status == 503, (name, status, error)
        if name != "healthz":
            assert error == "service_unavailable", (name, error)
    assert after and all(status == 200 for _, _, status, _ in after), after
    assert not [row for row in statuses if row[2] >= 500 and row[2] != 503], statuses
    body = httpx.get(f"{server.base_url}/chat/sessions/", headers=acme.headers, timeout=10)
    assert body.status_code == 200
    # At most the one request in flight when the database went away lost its hold's release;
    # that hold expires by itself within HOLD_TTL_SECONDS, like a crashed request's.
    from chat.models import RequestHold

    leftover = list(RequestHold.objects.filter(org=acme.org))
    assert len(leftover) <= 1, leftover
    for hold in leftover:
        assert (hold.expires_at - clock.now()).total_seconds() <= settings.HOLD_TTL_SECONDS


def _traffic(
    server: ServerProcess, acme: Keyed, stop: threading.Event, statuses: list[tuple[float, str, int, str]]
) -> None:
    """Sessions, a question and a health probe, over and over until `stop`; each outcome recorded
    as (when, which, status, error code)."""
    with httpx.Client(base_url=server.base_url, headers=acme.headers, timeout=30) as client:
        index = 0
        while not stop.is_set():
            index += 1
            for name, call in (
                ("sessions", lambda: client.get("/chat/sessions/")),
                ("query", lambda i=index: client.post("/chat/query/", json={"query": "q", "user_id": f"u{i}"})),
                ("healthz", lambda: client.get("/healthz")),
            ):
                response = call()
                error = ""
                if response.status_code >= 400:
                    is_json = response.headers.get("content-type", "").startswith("application/json")
                    error = response.json().get("error", "") if is_json else response.text[:80]
                statuses.append((time.monotonic(), name, response.status_code, error))
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply(delay_s=6.0), 504, "llm_timeout"),
        (Reply(status=500), 502, "llm_unavailable"),
    ],
    ids=["timeout", "http-500"],
)
def test_an_llm_endpoint_failure_is_a_clean_error_that_releases_the_hold_and_keeps_the_question(
    serve: Callable[..., ServerProcess],
    acme: Keyed,
    fake_llm: FakeLlm,
    reply: Reply,
    status: int,
    code: str,
) -> None:
    from chat.models import Message

    server = serve(workers=1, log_name=f"llm-{code}", **llm_env(fake_llm, LLM_TIMEOUT_S="1.5"))
    warm_up(server, acme, requests=1)
    fake_llm.behave(BROKEN=reply)

    started = time.monotonic()
    response = ask(server, acme, "BROKEN what is the supply voltage?", "victim")
    elapsed = time.monotonic() - started
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and body["message"].endswith(".") and set(body) == {"error", "message"}
    assert elapsed < 5, elapsed  # the 1.5 s LLM timeout bounds the wait, not the endpoint's 6 s
    assert holds_of(acme) == 0
    question, answer = last_turn("victim")
    assert question.content == "BROKEN what is the supply voltage?"
    assert answer.status == Message.Status.FAILED and answer.error == code

    # The same error mid-stream: an `error` event with the same shape, and the hold is free.
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/query/",
        json={"query": "BROKEN again", "user_id": "victim", "mode": "FAST"},
        headers={**acme.headers, "Accept": "text/event-stream"},
        timeout=30,
    ) as stream:
        lines = list(stream.iter_lines())
    events = [line.split(":", 1)[1].strip() for line in lines if line.startswith("event:")]
    assert events[0] == "meta" and events[-1] == "error", events
    assert f'"error":"{code}"' in lines[lines.index("event: error") + 1]
    assert wait_for(lambda: holds_of(acme) == 0, timeout=5)

    # The user may ask again at once, and a working endpoint answers.
    again = ask(server, acme, "what is the supply voltage?", "victim")
    assert again.status_code == 200, again.text


def test_a_client_leaving_mid_stream_frees_the_hold_and_the_answer_is_stored_as_aborted(
    serve: Callable[..., ServerProcess], acme: Keyed, fake_llm: FakeLlm
) -> None:
    from chat.models import Message

    server = serve(workers=1, log_name="disconnect", **llm_env(fake_llm))
    warm_up(server, acme, requests=1)
    fake_llm.behave(LONG=slow(20, words=40))
    with httpx.stream(
        "POST",
        f"{server.base_url}/chat/query/",
        json={"query": "LONG question", "user_id": "leaver", "mode": "FAST"},
        headers={**acme.headers, "Accept": "text/event-stream"},
        timeout=30,
    ) as stream:
        seen = []
        for line in stream.iter_lines():
            seen.append(line)
            if line == "event: delta":
                break
    left_at = time.monotonic()
    assert holds_of(acme) in (0, 1)
    assert wait_for(lambda: holds_of(acme) == 0, timeout=5), "the hold outlived the client"
    assert time.monotonic() - left_at < 10  # well before the 20 s answer would have ended

    def stored() -> bool:
        return Message.objects.filter(chat__user_id="leaver", role="assistant").exists()

    assert wait_for(stored, timeout=30)
    _, answer = last_turn("leaver")
    assert answer.status in (Message.Status.ABORTED, Message.Status.COMPLETE)
    if answer.status == Message.Status.ABORTED:
        assert answer.error == "client_disconnected"
        assert answer.content.startswith("word0")
    again = ask(server, acme, "quick one", "leaver")
    assert again.status_code == 200, again.text


def test_a_web_process_killed_mid_request_frees_the_hold_within_its_ttl_and_the_user_can_ask_again(
    serve: Callable[..., ServerProcess], acme: Keyed, fake_llm: FakeLlm
) -> None:
    from chat.models import RequestHold

    # A TTL long enough that the user is still refused right after the kill on a loaded
    # machine; the test clock then jumps past it rather than the test waiting it out.
    ttl = 15
    env = llm_env(fake_llm, HOLD_TTL_SECONDS=str(ttl))
    server = serve(workers=1, log_name="sigkill-before", **env)
    replacement = serve(workers=1, log_name="sigkill-after", **env)
    warm_up(server, acme, requests=1)
    warm_up(replacement, acme, requests=1)
    fake_llm.behave(FOREVER=slow(60, words=30))
    before = len(fake_llm.requests)
    doomed = threading.Thread(target=lambda: _ignore_errors(lambda: ask(server, acme, "FOREVER question", "victim")))
    doomed.start()
    assert wait_for(lambda: len(fake_llm.requests) > before, timeout=30)
    kill_server(server)
    doomed.join(30)
    hold = RequestHold.objects.get(org=acme.org, user_id="victim")
    assert (hold.expires_at - clock.now()).total_seconds() <= ttl

    busy = ask(replacement, acme, "again", "victim")
    assert busy.status_code == 429 and busy.json()["error"] == "user_session_limit_exceeded"
    clock.advance(ttl + 1)  # one TTL later, in every process
    again = ask(replacement, acme, "again", "victim")
    assert again.status_code == 200, again.text
    assert holds_of(acme) == 0


def _ignore_errors(call: Callable[[], object]) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass
