"""POST /chat/query/ — every documented input rule, status and error code that needs no answer.

A valid request for a user that already has a request in flight is answered 429 before any
answering starts, so "this input was accepted" is shown by that 429 (no model involved).
"""

import json
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from chat.admission import hold_acquire
from chat.models import Chat, Message, RequestHold, Seat
from core import clock
from orgs.services import api_key_create, api_key_revoke
from tests.contract.conftest import post_query
from topics.models import Topic

VALID = {"query": "What is EMEM?", "user_id": "usr_82af91", "mode": "AUTO"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"].strip()
    return body


def assert_invalid(response, *fields: str) -> dict:
    body = assert_error(response, 400, "invalid_request")
    for field in fields:
        assert body["details"].get(field), body
    return body


# --- authentication -----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "vt_000000000000_notarealkeynotarealkeynotarealkey"}])
def test_a_missing_or_unknown_key_gets_401_authentication_failed(org, headers: dict[str, str]) -> None:
    assert_error(APIClient().post("/chat/query/", VALID, format="json", headers=headers), 401, "authentication_failed")


@pytest.mark.django_db
def test_a_revoked_key_gets_401(org) -> None:
    issued = api_key_create(org=org)
    api_key_revoke(api_key=issued.api_key)
    response = APIClient().post("/chat/query/", VALID, format="json", headers={"X-API-KEY": issued.raw_key})
    assert_error(response, 401, "authentication_failed")


@pytest.mark.django_db
def test_the_key_header_name_is_case_insensitive(org, raw_key: str, make_busy) -> None:
    make_busy("usr_82af91")
    response = APIClient().post("/chat/query/", VALID, format="json", headers={"x-api-key": raw_key})
    assert response.status_code == 429


# --- routes -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/chat/query/", "/chat/query"])
def test_the_endpoint_answers_with_and_without_the_trailing_slash(api, make_busy, path: str) -> None:
    make_busy("usr_82af91")
    assert post_query(api, VALID, path=path).status_code == 429


@pytest.mark.django_db
def test_get_is_not_allowed(api) -> None:
    assert_error(api.get("/chat/query/"), 405, "method_not_allowed")


# --- body -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["query", "user_id"])
def test_query_and_user_id_are_required(api, field: str) -> None:
    body = {key: value for key, value in VALID.items() if key != field}
    assert_invalid(post_query(api, body), field)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "   ", None, 42, ["What?"]])
def test_query_must_be_a_non_empty_string(api, value: object) -> None:
    assert_invalid(post_query(api, {**VALID, "query": value}), "query")


@pytest.mark.django_db
def test_query_longer_than_the_limit_is_refused(api, make_busy) -> None:
    assert_invalid(post_query(api, {**VALID, "query": "x" * (settings.QUERY_MAX_CHARS + 1)}), "query")
    make_busy("usr_82af91")
    assert post_query(api, {**VALID, "query": "x" * settings.QUERY_MAX_CHARS}).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "   ", None, "u" * 256, 7])
def test_user_id_must_be_a_non_blank_string_of_at_most_255_characters(api, value: object) -> None:
    assert_invalid(post_query(api, {**VALID, "user_id": value}), "user_id")


@pytest.mark.django_db
def test_a_user_id_of_exactly_255_characters_is_accepted(api, make_busy) -> None:
    make_busy("u" * 255)
    assert post_query(api, {**VALID, "user_id": "u" * 255}).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["AUTO", "FAST", "AGENTIC"])
def test_each_documented_mode_is_accepted(api, make_busy, mode: str) -> None:
    make_busy("usr_82af91")
    assert post_query(api, {**VALID, "mode": mode}).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["SLOW", "fast", "", None, 1])
def test_any_other_mode_is_refused(api, mode: object) -> None:
    assert_invalid(post_query(api, {**VALID, "mode": mode}), "mode")


@pytest.mark.django_db
@pytest.mark.parametrize("chat_id", ["not-a-uuid", 12, "3c90c3cc-0d44-4b50-8888"])
def test_chat_id_must_be_a_uuid(api, chat_id: object) -> None:
    assert_invalid(post_query(api, {**VALID, "chat_id": chat_id}), "chat_id")


@pytest.mark.django_db
@pytest.mark.parametrize("topic_names", ["Sensors", [1], [""], {"a": 1}])
def test_topic_names_must_be_a_list_of_names(api, org, topic_names: object) -> None:
    Topic.objects.create(org=org, name="Sensors")
    assert_invalid(post_query(api, {**VALID, "topic_names": topic_names}), "topic_names")


@pytest.mark.django_db
@pytest.mark.parametrize("topic_names", [None, []])
def test_null_or_empty_topic_names_mean_automatic_scope(api, make_busy, topic_names: object) -> None:
    make_busy("usr_82af91")
    assert post_query(api, {**VALID, "topic_names": topic_names}).status_code == 429


@pytest.mark.django_db
def test_unknown_fields_are_ignored(api, make_busy) -> None:
    make_busy("usr_82af91")
    assert post_query(api, {**VALID, "stream": True, "temperature": 0.2}).status_code == 429


@pytest.mark.django_db
def test_malformed_json_is_400_invalid_request(api) -> None:
    response = api.generic("POST", "/chat/query/", '{"query": "What is EMEM?",', content_type="application/json")
    assert_error(response, 400, "invalid_request")


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["[]", '"What is EMEM?"', "null", "3"])
def test_a_body_that_is_not_a_json_object_is_400(api, body: str) -> None:
    assert_error(api.generic("POST", "/chat/query/", body, content_type="application/json"), 400, "invalid_request")


@pytest.mark.django_db
def test_a_body_over_the_size_limit_is_413_payload_too_large(api) -> None:
    body = json.dumps({**VALID, "query": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = api.generic("POST", "/chat/query/", body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")
    limit_kb = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1024
    assert response.json()["message"] == f"The request body is larger than the {limit_kb} KB this server accepts."


@pytest.mark.django_db
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_json_is_415_unsupported_media_type(api, content_type: str) -> None:
    response = api.generic("POST", "/chat/query/", json.dumps(VALID), content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert response.json()["message"] == "Send the body as application/json."


# --- topics and chats -------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_topic_names_are_400_unknown_topic_naming_every_unknown_one(api, org) -> None:
    Topic.objects.create(org=org, name="Sensors")
    response = post_query(api, {**VALID, "topic_names": ["sensors", "Family A", "Family B"]})
    body = assert_error(response, 400, "unknown_topic")
    assert body["unknown_topics"] == ["Family A", "Family B"]
    assert "Family A" in body["message"] and "Family B" in body["message"]


@pytest.mark.django_db
def test_topic_names_match_case_insensitively(api, org, make_busy) -> None:
    Topic.objects.create(org=org, name="Example Product Family")
    make_busy("usr_82af91")
    response = post_query(api, {**VALID, "topic_names": ["example PRODUCT family"]})
    assert response.status_code == 429


@pytest.mark.django_db
def test_another_orgs_topic_is_unknown(api, other_org) -> None:
    Topic.objects.create(org=other_org, name="Secret Family")
    body = assert_error(post_query(api, {**VALID, "topic_names": ["Secret Family"]}), 400, "unknown_topic")
    assert body["unknown_topics"] == ["Secret Family"]


@pytest.mark.django_db
def test_an_unknown_chat_id_is_404_chat_not_found(api) -> None:
    assert_error(post_query(api, {**VALID, "chat_id": str(uuid.uuid4())}), 404, "chat_not_found")


@pytest.mark.django_db
def test_a_chat_of_another_user_id_is_404(api, org) -> None:
    chat = Chat.objects.create(org=org, user_id="someone-else", title="theirs")
    assert_error(post_query(api, {**VALID, "chat_id": str(chat.pk)}), 404, "chat_not_found")


@pytest.mark.django_db
def test_another_orgs_key_cannot_continue_this_orgs_chat(org, other_raw_key: str) -> None:
    chat = Chat.objects.create(org=org, user_id="usr_82af91", title="ours")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=other_raw_key)
    assert_error(post_query(client, {**VALID, "chat_id": str(chat.pk)}), 404, "chat_not_found")
    assert Message.objects.filter(chat=chat).count() == 0


@pytest.mark.django_db
def test_the_owners_chat_id_is_accepted(api, org, make_busy) -> None:
    chat = Chat.objects.create(org=org, user_id="usr_82af91", title="ours")
    make_busy("usr_82af91")
    assert post_query(api, {**VALID, "chat_id": str(chat.pk)}).status_code == 429


# --- limits -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_request_for_the_same_user_gets_the_exact_per_user_429_body(api, make_busy) -> None:
    make_busy("usr_82af91")
    response = post_query(api, VALID)
    assert response.status_code == 429
    assert response.json() == {
        "error": "user_session_limit_exceeded",
        "message": "user_id 'usr_82af91' already has an active request. Please wait for it to complete.",
        "user_id": "usr_82af91",
    }


@pytest.mark.django_db
def test_the_per_user_429_says_when_the_hold_frees_up_at_the_latest(api, make_busy) -> None:
    make_busy("usr_82af91")
    clock.advance(30)
    response = post_query(api, VALID)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.HOLD_TTL_SECONDS - 30


@pytest.mark.django_db
def test_the_org_429_says_when_the_oldest_seat_frees_up(api, org) -> None:
    org.max_sessions = 2
    org.save()
    hold_acquire(org=org, holder="key:other", user_id="first")
    clock.advance(100)
    hold_acquire(org=org, holder="key:other", user_id="second")
    response = post_query(api, VALID)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == settings.SEAT_WINDOW_SECONDS - 100


@pytest.mark.django_db
def test_a_new_user_when_every_seat_is_held_gets_the_exact_org_429_body(api, org) -> None:
    org.max_sessions = 10
    org.save()
    for n in range(10):
        hold_acquire(org=org, holder="key:other", user_id=f"usr_{n}")
    response = post_query(api, VALID)
    assert response.status_code == 429
    assert response.json() == {
        "error": "session_limit_exceeded",
        "message": "You have exceeded the session quota limit for your organization. Please try again later.",
        "total_seats": 10,
        "active_seats": 10,
        "available_seats": 0,
    }


@pytest.mark.django_db
def test_errors_before_the_answer_are_plain_json_even_when_a_stream_is_asked_for(api, make_busy) -> None:
    make_busy("usr_82af91")
    response = post_query(api, VALID, Accept="text/event-stream")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "user_session_limit_exceeded"
    invalid = post_query(api, {"user_id": "x"}, Accept="text/event-stream")
    assert invalid.status_code == 400 and invalid["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_refused_requests_store_nothing_and_take_no_seat(api, org, make_busy) -> None:
    make_busy("usr_82af91")
    org.max_sessions = 1
    org.save()
    post_query(api, VALID)  # 429 busy
    post_query(api, {**VALID, "user_id": "newcomer"})  # 429 seats
    post_query(api, {**VALID, "user_id": "newcomer", "topic_names": ["nope"]})  # 400
    post_query(api, {**VALID, "user_id": "newcomer", "chat_id": str(uuid.uuid4())})  # 404
    assert Chat.objects.count() == 0 and Message.objects.count() == 0
    assert list(Seat.objects.values_list("user_id", flat=True)) == ["usr_82af91"]
    assert RequestHold.objects.count() == 1
