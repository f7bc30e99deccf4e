"""POST /chat/query/ with Accept: text/event-stream, read by an SSE client from a live server."""

import json
import re

import httpx
import pytest
from httpx_sse import connect_sse

from chat.models import Message, RequestHold
from tests.chat.live import ask, wait_for
from tests.fake_llm import Reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

QUESTION = "What is the I2C slave address of the BME280?"


@pytest.fixture
def key(datasheets_org) -> str:
    from orgs.services import api_key_create

    return api_key_create(org=datasheets_org, label="sse").raw_key


def stream(server, key: str, user_id: str = "usr_sse", **body: object) -> tuple[httpx.Response, list[tuple[str, dict]]]:
    payload = {"query": QUESTION, "user_id": user_id, "mode": "FAST", **body}
    headers = {"X-API-KEY": key, "Accept": "text/event-stream"}
    with (
        httpx.Client(timeout=120) as client,
        connect_sse(client, "POST", f"{server.base_url}/chat/query/", json=payload, headers=headers) as source,
    ):
        events = [(event.event, json.loads(event.data)) for event in source.iter_sse()]
        return source.response, events


def names(events: list[tuple[str, dict]]) -> str:
    return " ".join(name for name, _ in events)


def test_events_come_in_the_documented_order_and_done_is_the_json_response(server, llm, key) -> None:
    response, events = stream(server, key)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert re.fullmatch(r"meta( delta)+ done", names(events)), names(events)
    meta, done = events[0][1], events[-1][1]
    assert set(meta) == {"chat_id", "chat_url", "mode"}
    assert (meta["chat_id"], meta["chat_url"], meta["mode"]) == (done["chat_id"], done["chat_url"], "FAST")
    assert "".join(data["text"] for name, data in events if name == "delta") == done["final_answer"]
    assert done["sources"], "the fake model cites evidence [1]"

    as_json = ask(server, key, "usr_json", query=QUESTION)
    assert as_json.status_code == 200
    expected = as_json.json()
    assert set(done) == set(expected)
    for field in ("final_answer", "sources", "mode"):
        assert done[field] == expected[field]
    stored = Message.objects.get(chat_id=done["chat_id"], role="assistant")
    assert (stored.content, stored.status, stored.mode) == (done["final_answer"], "complete", "FAST")


def test_agentic_streams_its_tool_steps_between_meta_and_the_answer(server, llm, key) -> None:
    _, events = stream(server, key, mode="AGENTIC")
    assert re.fullmatch(r"meta( step)+( delta)+ done", names(events)), names(events)
    step = next(data for name, data in events if name == "step")
    assert set(step) == {"tool", "input", "result"}
    assert step["tool"] == "search_library" and step["input"]["query"] == QUESTION
    assert events[-1][1]["mode"] == "AGENTIC"


def test_a_model_failure_mid_answer_sends_an_error_event_and_ends_the_stream(server, llm, key) -> None:
    llm.behave(Reply(drop_after=3))  # the connection breaks after three words
    response, events = stream(server, key)
    assert response.status_code == 200
    assert re.fullmatch(r"meta( delta)+ error", names(events)), names(events)
    error = events[-1][1]
    assert error["error"] == "llm_unavailable" and error["message"]
    chat_id = events[0][1]["chat_id"]
    answer = Message.objects.get(chat_id=chat_id, role="assistant")
    assert (answer.status, answer.error) == ("failed", "llm_unavailable")
    assert RequestHold.objects.count() == 0
    llm.behave()
    assert ask(server, key, "usr_sse").status_code == 200  # the hold was released


def test_a_model_that_refuses_before_answering_gives_meta_then_error(server, llm, key) -> None:
    llm.behave(Reply(status=500))
    _, events = stream(server, key)
    assert names(events) == "meta error"
    assert events[1][1]["error"] == "llm_unavailable"


def test_keep_alive_comments_flow_while_the_answer_is_pending(server, llm, key) -> None:
    llm.hold()
    headers = {"X-API-KEY": key, "Accept": "text/event-stream"}
    body = {"query": QUESTION, "user_id": "usr_ping", "mode": "FAST"}
    with httpx.stream("POST", f"{server.base_url}/chat/query/", json=body, headers=headers, timeout=60) as response:
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if lines.count(": ping") >= 2:
                llm.release()
            if line.startswith("event: done"):
                break
    assert lines.count(": ping") >= 2
    assert lines[0] == "event: meta"


def test_a_client_that_disconnects_mid_stream_releases_its_hold(server, llm, key) -> None:
    llm.hold()
    headers = {"X-API-KEY": key, "Accept": "text/event-stream"}
    body = {"query": QUESTION, "user_id": "usr_gone", "mode": "FAST"}
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", f"{server.base_url}/chat/query/", json=body, headers=headers) as source,
    ):
        events = source.iter_sse()
        first = next(events)
        assert first.event == "meta"
        chat_id = json.loads(first.data)["chat_id"]
        assert RequestHold.objects.filter(user_id="usr_gone").count() == 1
    # The connection is closed while the model is still thinking.
    wait_for(lambda: not RequestHold.objects.filter(user_id="usr_gone").exists(), what="the hold to be released")
    llm.release()
    wait_for(
        lambda: Message.objects.filter(chat_id=chat_id, role="assistant", status="aborted").exists(),
        what="the interrupted answer to be stored as aborted",
    )
    assert ask(server, key, "usr_gone").status_code == 200


def test_streamed_requests_obey_the_per_user_and_seat_limits(server, llm, key, datasheets_org) -> None:
    datasheets_org.max_sessions = 1
    datasheets_org.save()
    llm.hold()
    headers = {"X-API-KEY": key, "Accept": "text/event-stream"}
    body = {"query": QUESTION, "user_id": "usr_first", "mode": "FAST"}
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", f"{server.base_url}/chat/query/", json=body, headers=headers) as source,
    ):
        # Keep one iterator: dropping an httpx-sse iterator closes the connection (a disconnect).
        events = source.iter_sse()
        assert next(events).event == "meta"
        again = httpx.post(f"{server.base_url}/chat/query/", json=body, headers=headers, timeout=30)
        assert again.status_code == 429
        assert again.headers["content-type"] == "application/json"
        assert again.json()["error"] == "user_session_limit_exceeded"
        newcomer = httpx.post(
            f"{server.base_url}/chat/query/", json={**body, "user_id": "usr_second"}, headers=headers, timeout=30
        )
        assert newcomer.status_code == 429
        assert newcomer.json() == {
            "error": "session_limit_exceeded",
            "message": "You have exceeded the session quota limit for your organization. Please try again later.",
            "total_seats": 1,
            "active_seats": 1,
            "available_seats": 0,
        }
        llm.release()
        assert [event.event for event in events][-1] == "done"
