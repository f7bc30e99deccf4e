"""The chat web pages: `/`, the org's threads, one thread (chat_url), and the ask endpoint's guards."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils.html import escape

from chat.models import Chat, Message
from library.models import Chunk
from orgs.services import member_create, org_create

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def thread(org, *, user_id: str, question: str, answer: str, sources: list | None = None, mode: str = "FAST") -> Chat:
    chat = Chat.objects.create(org=org, user_id=user_id, title=question[:200])
    Message.objects.create(chat=chat, role="user", content=question, requested_mode="AUTO")
    Message.objects.create(
        chat=chat, role="assistant", content=answer, mode=mode, sources=sources or [], timings={"total_ms": 812.4}
    )
    return chat


def stored_source(chunk: Chunk) -> dict:
    return {
        "source_name": chunk.document.source_name,
        "page": chunk.page,
        "url": f"http://testserver/x/library?source_name={chunk.document.source_name}&source_page={chunk.page}",
        "document_id": chunk.document_id,
        "chunk_ids": [chunk.pk],
        "passages": [chunk.text],
    }


# --- / and access ------------------------------------------------------------------------------


def test_home_sends_a_member_of_one_org_to_its_threads(org, member) -> None:
    response = logged_in(member).get("/")
    assert response.status_code == 302 and response["Location"] == "/Acme/chat/"


def test_home_lists_the_orgs_of_a_member_of_several(org, member) -> None:
    second = org_create(name="Initech.Labs")
    again = member_create(org=second, username="member", password="member-pass-123").user
    page = logged_in(again).get("/").content.decode()
    assert 'href="/Acme/chat/"' in page and 'href="/Initech.Labs/chat/"' in page


def test_home_and_threads_need_a_login(org) -> None:
    assert Client().get("/")["Location"].startswith("/accounts/login/")
    chat = thread(org, user_id="u1", question="q", answer="a")
    response = Client().get(f"/Acme/chat/{chat.pk}")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/Acme/chat/{chat.pk}"


def test_member_of_another_org_sees_neither_the_list_nor_a_thread(org, stranger) -> None:
    chat = thread(org, user_id="usr_secret", question="Acme secret question", answer="Acme secret answer")
    client = logged_in(stranger)
    for url in ["/Acme/chat/", f"/Acme/chat/{chat.pk}", "/Acme/chat/new", "/Acme/"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"secret" not in response.content
    response = client.post("/Acme/chat/stream", {"query": "more?", "chat_id": str(chat.pk)})
    assert response.status_code == 404 and Message.objects.filter(chat=chat).count() == 2
    # Nor through their own org's address.
    response = client.get(f"/Globex/chat/{chat.pk}")
    assert response.status_code == 404 and b"secret" not in response.content
    assert str(chat.pk) not in client.get("/Globex/chat/?q=secret").content.decode()


def test_login_page_signs_in_and_sign_out_comes_back_to_it(org, member) -> None:
    client = Client()
    page = client.get("/accounts/login/?next=/Acme/chat/").content.decode()
    assert '<label for="id_username">Username</label>' in page and 'name="next" value="/Acme/chat/"' in page
    response = client.post(
        "/accounts/login/", {"username": "member", "password": "member-pass-123", "next": "/Acme/chat/"}
    )
    assert response.status_code == 302 and response["Location"] == "/Acme/chat/"
    assert client.get("/Acme/chat/").status_code == 200
    response = client.post("/accounts/logout/", {"next": "/accounts/login/?signed_out=1"})
    assert response["Location"] == "/accounts/login/?signed_out=1"
    assert "You have signed out." in client.get(response["Location"]).content.decode()
    assert client.get("/Acme/chat/").status_code == 302


def test_wrong_password_shows_an_error(org, member) -> None:
    response = Client().post("/accounts/login/", {"username": "member", "password": "nope"})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()


# --- the list ----------------------------------------------------------------------------------


def test_threads_are_listed_newest_first(org, member) -> None:
    older = thread(org, user_id="usr_a", question="What is the BME280 I2C address?", answer="0x76")
    newer = thread(org, user_id="usr_b", question="Max current of IRF540N?", answer="33 A")
    Chat.objects.filter(pk=older.pk).update(updated_at=newer.updated_at - timedelta(hours=1))
    page = logged_in(member).get("/Acme/chat/").content.decode()
    assert page.index(f"/Acme/chat/{newer.pk}") < page.index(f"/Acme/chat/{older.pk}")
    assert "usr_a" in page and "2 threads" in page and 'href="/Acme/chat/new"' in page


def test_threads_are_searchable_by_user_id_and_text(org, member) -> None:
    a = thread(org, user_id="usr_82af91", question="Supply range?", answer="The BME280 runs from 1.71 V")
    b = thread(org, user_id="usr_d4f012", question="Pinout of the FT232R?", answer="See table 3")
    client = logged_in(member)
    by_user = client.get("/Acme/chat/?user_id=82af").content.decode()
    assert f"/Acme/chat/{a.pk}" in by_user and f"/Acme/chat/{b.pk}" not in by_user
    by_answer_text = client.get("/Acme/chat/?q=bme280").content.decode()
    assert f"/Acme/chat/{a.pk}" in by_answer_text and f"/Acme/chat/{b.pk}" not in by_answer_text
    both = client.get("/Acme/chat/?q=pinout&user_id=usr_82af91").content.decode()
    assert "No thread matches this search." in both


# --- one thread --------------------------------------------------------------------------------


def test_thread_shows_question_answer_mode_time_and_source_links(datasheets_org) -> None:
    reader = member_create(org=datasheets_org, username="reader", password="reader-pass-1").user
    chunk = Chunk.objects.select_related("document").filter(document__source_name="bosch-bme280.pdf", page=3).first()
    assert chunk is not None
    chat = thread(
        datasheets_org,
        user_id="usr_82af91",
        question="What is the supply voltage range of the BME280?",
        answer="The BME280 supply:\n\n- **VDD**: 1.71 V to 3.6 V\n- `VDDIO`: 1.2 V to 3.6 V",
        sources=[stored_source(chunk)],
        mode="AGENTIC",
    )
    page = logged_in(reader).get(f"/Datasheets/chat/{chat.pk}").content.decode()
    assert "What is the supply voltage range of the BME280?" in page
    assert "<li><strong>VDD</strong>: 1.71 V to 3.6 V</li>" in page and "<code>VDDIO</code>" in page
    assert '<span class="badge mode-AGENTIC" title="Mode used">AGENTIC</span>' in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', page)
    link = re.search(r'<a href="([^"]+)">bosch-bme280.pdf</a> <span class="muted">page 3</span>', page)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/Datasheets/library?source_name=bosch-bme280.pdf&source_page=3&source_type=text")
    assert f"cite={chunk.pk}" in href and f"from={chat.pk}" in href
    assert 'id="ask-form"' in page and f'name="chat_id" value="{chat.pk}"' in page


def test_source_link_finds_the_passage_again_after_reingestion(datasheets_org) -> None:
    reader = member_create(org=datasheets_org, username="reader", password="reader-pass-1").user
    chunk = Chunk.objects.select_related("document").filter(document__source_name="bosch-bme280.pdf", page=3).first()
    assert chunk is not None
    source = stored_source(chunk)
    source["chunk_ids"] = [987654321]  # the ids the answer saw are gone
    chat = thread(datasheets_org, user_id="u", question="q", answer="a", sources=[source])
    page = logged_in(reader).get(f"/Datasheets/chat/{chat.pk}").content.decode()
    assert f"cite={chunk.pk}" in page


def test_answer_html_from_an_llm_or_pdf_is_shown_as_text(org, member) -> None:
    chat = thread(
        org,
        user_id="u1",
        question='<script>alert("q")</script> question',
        answer='Use <script>alert("x")</script> and <img src=x onerror=alert(1)> and [link](javascript:alert(2))\n\n'
        "| Pin | Name |\n|---|---|\n| 1 | VDD |",
    )
    page = logged_in(member).get(f"/Acme/chat/{chat.pk}").content.decode()
    assert re.search(r"&lt;script&gt;alert\((&quot;|\")x(&quot;|\")\)&lt;/script&gt;", page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert escape('<script>alert("q")</script>') in page
    assert "<script>alert" not in page and "<img src=x" not in page and "javascript:" not in page
    assert "<td>VDD</td>" in page  # formatting is kept


def test_a_failed_answer_is_marked(org, member) -> None:
    chat = thread(org, user_id="u1", question="q?", answer="")
    Message.objects.filter(chat=chat, role="assistant").update(status="failed", error="llm_timeout")
    page = logged_in(member).get(f"/Acme/chat/{chat.pk}").content.decode()
    assert "This answer failed (llm_timeout)" in page


def test_unknown_thread_is_a_clear_404(org, member) -> None:
    response = logged_in(member).get("/Acme/chat/2d8a39d8-29d6-4f0f-bc5f-4c5f0f9c9d54")
    assert response.status_code == 404
    assert "This thread does not exist in this organization." in response.content.decode()


def test_new_chat_page_has_an_empty_thread_and_the_ask_box(org, member) -> None:
    page = logged_in(member).get("/Acme/chat/new").content.decode()
    assert 'id="thread-empty"' in page and 'name="chat_id" value=""' in page and 'action="/Acme/chat/stream"' in page


# --- the ask endpoint's guards (streaming itself: tests/browser) ----------------------------------


def test_asking_needs_the_csrf_token(org, member) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post("/Acme/chat/stream", {"query": "What is VDD?"}, HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 403
    assert not Chat.objects.exists()


def test_asking_with_an_empty_question_is_a_400_in_the_error_shape(org, member) -> None:
    response = logged_in(member).post("/Acme/chat/stream", {"query": "  "}, HTTP_ACCEPT="text/event-stream")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "query" in response.json()["details"]
    assert not Chat.objects.exists()


def test_asking_in_another_orgs_thread_is_chat_not_found(org, other_org, stranger) -> None:
    chat = thread(org, user_id="u1", question="q", answer="a")
    response = logged_in(stranger).post(
        "/Globex/chat/stream", {"query": "more?", "chat_id": str(chat.pk)}, HTTP_ACCEPT="text/event-stream"
    )
    assert response.status_code == 404 and response.json()["error"] == "chat_not_found"
    assert Message.objects.filter(chat=chat).count() == 2


def test_anonymous_cannot_ask(org) -> None:
    response = Client().post("/Acme/chat/stream", {"query": "q"})
    assert response.status_code == 302 and not Chat.objects.exists()


def sse_events(body: str) -> list[tuple[str, dict]]:
    import json

    events = []
    for frame in body.split("\n\n"):
        name = next((line[7:] for line in frame.split("\n") if line.startswith("event: ")), None)
        data = next((line[6:] for line in frame.split("\n") if line.startswith("data: ")), None)
        if name and data:
            events.append((name, json.loads(data)))
    return events


@pytest.mark.django_db(transaction=True)  # the answer is stored by the stream's own thread
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_asking_in_the_browser_continues_an_api_thread_on_the_same_chat(datasheets_org) -> None:
    reader = member_create(org=datasheets_org, username="reader", password="reader-pass-1").user
    chat = thread(datasheets_org, user_id="usr_82af91", question="Tell me about the BME280.", answer="A sensor.")
    response = logged_in(reader).post(
        "/Datasheets/chat/stream",
        {"query": "What is the I2C address of the BME280?", "chat_id": str(chat.pk), "mode": "FAST"},
        HTTP_ACCEPT="text/event-stream",
    )
    assert response["Content-Type"] == "text/event-stream"
    events = sse_events(b"".join(response).decode())  # drains the async stream
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done" and "delta" in names
    assert events[0][1]["chat_id"] == str(chat.pk)
    done = events[-1][1]
    assert done["chat_id"] == str(chat.pk) and done["sources"]
    stored = list(Message.objects.filter(chat=chat).order_by("created_at", "id"))
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[2].content == "What is the I2C address of the BME280?"
    assert stored[3].content == done["final_answer"] and stored[3].mode == "FAST"
    assert Chat.objects.get(pk=chat.pk).user_id == "usr_82af91"


@pytest.mark.django_db(transaction=True)  # the answer is stored by the stream's own thread
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_asking_without_a_chat_id_starts_a_thread_of_ones_own(datasheets_org) -> None:
    reader = member_create(org=datasheets_org, username="reader", password="reader-pass-1").user
    response = logged_in(reader).post(
        "/Datasheets/chat/stream", {"query": "Maximum drain current of the IRF540N?"}, HTTP_ACCEPT="text/event-stream"
    )
    events = sse_events(b"".join(response).decode())  # drains the async stream
    chat = Chat.objects.get(pk=events[0][1]["chat_id"])
    assert chat.org == datasheets_org and chat.user_id == "reader" and chat.created_by == reader
    assert events[0][1]["chat_url"].endswith(f"/Datasheets/chat/{chat.pk}")


def test_datasheet_code_lines_are_not_turned_into_headings(org, member) -> None:
    answer = "Change the line\n#define BME280_I2C_ADDRESS BME280_I2C_ADDRESS1\n\n```c\n#define X 1\n```\n\n# Summary"
    chat = thread(org, user_id="u1", question="q", answer=answer)
    page = logged_in(member).get(f"/Acme/chat/{chat.pk}").content.decode()
    assert "#define BME280_I2C_ADDRESS BME280_I2C_ADDRESS1" in page and "<h1>define" not in page
    assert "<pre><code>#define X 1" in page and "<h1>Summary</h1>" in page


@pytest.mark.django_db(transaction=True)  # the answer is stored by the stream's own thread
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")
def test_an_agentic_turn_streams_its_tool_steps_and_stores_them(datasheets_org) -> None:
    reader = member_create(org=datasheets_org, username="reader", password="reader-pass-1").user
    question = "Compare the supply voltage range of the BME280 and the ADXL345."
    response = logged_in(reader).post(
        "/Datasheets/chat/stream", {"query": question, "mode": "AGENTIC"}, HTTP_ACCEPT="text/event-stream"
    )
    events = sse_events(b"".join(response).decode())  # drains the async stream
    names = [name for name, _ in events]
    assert names[0] == "meta" and events[0][1]["mode"] == "AGENTIC" and names[-1] == "done"
    steps = [data for name, data in events if name == "step"]
    assert steps and all({"tool", "input", "result"} <= set(step) for step in steps)
    chat = Chat.objects.get(pk=events[0][1]["chat_id"])
    answer = Message.objects.get(chat=chat, role="assistant")
    assert answer.mode == "AGENTIC" and len(answer.steps) == len(steps)
    page = logged_in(reader).get(f"/Datasheets/chat/{chat.pk}").content.decode()
    assert f"{len(steps)} research step" in page and f"<code>{steps[0]['tool']}</code>" in page
