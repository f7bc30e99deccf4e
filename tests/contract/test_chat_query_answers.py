"""POST /chat/query/ answered: every documented response field, default and the example requests.

Runs over the ten real datasheets with the extractive backend (deterministic, no model).
"""

import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.conf import settings

from agent.backends import scripted_responses
from chat.admission import hold_acquire
from chat.models import Chat, Message, RequestHold, Seat
from orgs.services import api_key_create
from tests.contract.conftest import post_query
from tests.datasheets import DATASHEET_TOPICS

RESPONSE_FIELDS = {"final_answer", "chat_id", "chat_url", "sources", "mode"}
LOOKUP = {"query": "What is the I2C slave address of the BME280?", "user_id": "usr_82af91", "mode": "AUTO"}


def answered(response) -> dict:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict)  # one object, not an array
    assert set(body) == RESPONSE_FIELDS
    return body


@pytest.mark.django_db
@pytest.mark.slow
def test_the_example_request_gets_one_object_with_exactly_the_documented_fields(datasheets_api) -> None:
    body = answered(post_query(datasheets_api, LOOKUP))
    assert isinstance(body["final_answer"], str) and body["final_answer"].strip()
    assert "[1]" not in body["final_answer"]  # citation markup is stripped
    assert str(uuid.UUID(body["chat_id"])) == body["chat_id"]
    assert body["chat_url"] == f"{settings.APP_BASE_URL}/Datasheets/chat/{body['chat_id']}"
    assert body["mode"] == "FAST"  # AUTO picked FAST for a look-up, and says so
    assert body["sources"], "a look-up on a real datasheet cites it"
    for source in body["sources"]:
        assert set(source) == {"source_name", "page", "url"}
        assert isinstance(source["page"], int) and source["page"] >= 1
        assert source["source_name"].endswith(".pdf")
        url = urlsplit(source["url"])
        assert f"{url.scheme}://{url.netloc}" == settings.APP_BASE_URL
        assert url.path == "/Datasheets/library"
        assert parse_qs(url.query) == {
            "source_name": [source["source_name"]],
            "source_page": [str(source["page"])],
            "source_type": ["text"],
        }
    assert body["sources"][0]["source_name"] == "bosch-bme280.pdf"


@pytest.mark.django_db
@pytest.mark.slow
def test_mode_defaults_to_auto(datasheets_api) -> None:
    body = answered(post_query(datasheets_api, {"query": LOOKUP["query"], "user_id": "usr_1"}))
    question = Message.objects.get(chat_id=body["chat_id"], role=Message.Role.USER)
    assert question.requested_mode == "AUTO"
    assert body["mode"] in {"FAST", "AGENTIC"}


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["FAST", "AGENTIC"])
def test_the_requested_mode_is_the_mode_that_ran(datasheets_api, mode: str) -> None:
    body = answered(post_query(datasheets_api, {**LOOKUP, "mode": mode}))
    assert body["mode"] == mode


@pytest.mark.django_db
@pytest.mark.slow
def test_auto_reports_agentic_for_a_comparison(datasheets_api) -> None:
    query = "Compare the supply voltage range of the BME280 and the ADXL345."
    body = answered(post_query(datasheets_api, {"query": query, "user_id": "usr_1", "mode": "AUTO"}))
    assert body["mode"] == "AGENTIC"


@pytest.mark.django_db
@pytest.mark.slow
def test_the_scoped_example_cites_only_documents_of_the_named_topics(datasheets_api) -> None:
    body = answered(
        post_query(
            datasheets_api,
            {"query": "What is the maximum operating temperature?", "user_id": "usr_82af91", "topic_names": ["power"]},
        )
    )
    assert body["sources"]
    assert {source["source_name"] for source in body["sources"]} <= set(DATASHEET_TOPICS["Power"])


@pytest.mark.django_db
@pytest.mark.slow
def test_the_follow_up_example_continues_the_same_thread(datasheets_api) -> None:
    first = answered(post_query(datasheets_api, LOOKUP))
    follow_up = {
        "query": "What is the maximum operating temperature?",
        "user_id": "usr_82af91",
        "chat_id": first["chat_id"],
    }
    second = answered(post_query(datasheets_api, follow_up))
    assert second["chat_id"] == first["chat_id"]
    assert second["chat_url"] == first["chat_url"]
    roles = list(Message.objects.filter(chat_id=first["chat_id"]).values_list("role", flat=True))
    assert roles == ["user", "assistant", "user", "assistant"]
    assert Chat.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.slow
def test_omitting_chat_id_starts_a_new_thread_each_time(datasheets_api) -> None:
    first = answered(post_query(datasheets_api, LOOKUP))
    second = answered(post_query(datasheets_api, LOOKUP))
    assert first["chat_id"] != second["chat_id"]


@pytest.mark.django_db
@pytest.mark.slow
def test_both_the_question_and_the_answer_are_stored_on_the_chat(datasheets_api, datasheets_key) -> None:
    body = answered(post_query(datasheets_api, LOOKUP))
    chat = Chat.objects.get(pk=body["chat_id"])
    assert (chat.user_id, chat.api_key_id, chat.title) == ("usr_82af91", datasheets_key.api_key.pk, LOOKUP["query"])
    question, answer = chat.messages.all()
    assert (question.role, question.content, question.requested_mode) == ("user", LOOKUP["query"], "AUTO")
    assert (answer.role, answer.status, answer.mode) == ("assistant", "complete", body["mode"])
    assert answer.content == body["final_answer"]
    assert [{k: s[k] for k in ("source_name", "page", "url")} for s in answer.sources] == body["sources"]
    assert all(source["passages"] and source["chunk_ids"] for source in answer.sources)  # for highlighting
    assert answer.timings["total_ms"] > 0


@pytest.mark.django_db
@pytest.mark.slow
def test_an_answered_request_frees_its_hold_and_holds_a_seat(datasheets_api) -> None:
    answered(post_query(datasheets_api, LOOKUP))
    assert RequestHold.objects.count() == 0
    assert list(Seat.objects.values_list("user_id", flat=True)) == ["usr_82af91"]
    answered(post_query(datasheets_api, LOOKUP))  # the same user may ask again at once
    sessions = datasheets_api.get("/chat/sessions/").json()
    assert sessions["active_user_ids"] == ["usr_82af91"] and sessions["used_sessions"] == 1


@pytest.mark.django_db
@pytest.mark.slow
def test_the_per_user_limit_counts_per_api_key(datasheets_api, datasheets_org) -> None:
    other_app = api_key_create(org=datasheets_org, label="other app")
    hold_acquire(org=datasheets_org, holder=f"key:{other_app.api_key.pk}", user_id="usr_82af91")
    answered(post_query(datasheets_api, LOOKUP))


@pytest.mark.django_db
@pytest.mark.slow
def test_a_user_seated_within_the_window_is_admitted_when_every_seat_is_held(datasheets_api, datasheets_org) -> None:
    datasheets_org.max_sessions = 1
    datasheets_org.save()
    answered(post_query(datasheets_api, LOOKUP))
    answered(post_query(datasheets_api, LOOKUP))
    response = post_query(datasheets_api, {**LOOKUP, "user_id": "someone_new"})
    assert response.status_code == 429 and response.json()["error"] == "session_limit_exceeded"


@pytest.mark.django_db
@pytest.mark.slow
@pytest.mark.parametrize(
    ("failure", "status", "code"), [("unavailable", 502, "llm_unavailable"), ("timeout", 504, "llm_timeout")]
)
def test_an_llm_failure_is_reported_stored_and_frees_the_hold(
    datasheets_api, settings, failure: str, status: int, code: str
) -> None:
    settings.LLM_BACKEND = "scripted"
    with scripted_responses([{"error": failure}]):
        response = post_query(datasheets_api, {**LOOKUP, "mode": "FAST"})
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code and body["message"]
    question, answer = Message.objects.order_by("created_at", "id")
    assert (question.role, question.content) == ("user", LOOKUP["query"])
    assert (answer.role, answer.status, answer.error) == ("assistant", "failed", code)
    assert RequestHold.objects.count() == 0


@pytest.mark.django_db
def test_chat_url_and_library_urls_are_absolute_and_url_encoded(settings) -> None:
    from chat.links import chat_url
    from library.links import source_url

    settings.APP_BASE_URL = "https://voltai.example.com"
    chat_id = uuid.UUID("2d8a39d8-29d6-4f0f-bc5f-4c5f0f9c9d54")
    assert chat_url(org_name="ExampleOrg", chat_id=chat_id) == (
        "https://voltai.example.com/ExampleOrg/chat/2d8a39d8-29d6-4f0f-bc5f-4c5f0f9c9d54"
    )
    assert source_url(org_name="ExampleOrg", source_name="example-datasheet.pdf", page=12) == (
        "https://voltai.example.com/ExampleOrg/library"
        "?source_name=example-datasheet.pdf&source_page=12&source_type=text"
    )
    odd = "data sheet & notes #2 (rev?).pdf"
    url = source_url(org_name="Org/With Space", source_name=odd, page=3)
    assert url.startswith("https://voltai.example.com/" + quote("Org/With Space", safe="") + "/library?")
    assert parse_qs(urlsplit(url).query)["source_name"] == [odd]
    assert " " not in url and "#" not in url
