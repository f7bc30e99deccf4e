"""A person in Chromium: opens a chat_url from the API, follows a source, continues the thread."""

import io
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from chat.models import Chat, Message
from library.models import Document, PageUnits
from orgs.services import api_key_create, member_create
from tests.browser.conftest import PHONE, log_in, shoot, start_browser_server
from tests.conftest import stop_server
from tests.fake_llm import FakeLlm, Reply

QUESTION = "What is the I2C address of the BME280?"


@pytest.fixture
def engineer(datasheets_org):
    member_create(org=datasheets_org, username="ada", password="ada-pass-1234")
    return ("ada", "ada-pass-1234")


def api_query(base_url: str, raw_key: str, **body: object) -> dict:
    response = httpx.post(
        f"{base_url}/chat/query/", json={"user_id": "usr_82af91", **body}, headers={"X-API-KEY": raw_key}, timeout=120
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_url_from_the_api_shows_the_thread_and_a_source_opens_the_highlighted_passage(
    datasheets_org, engineer, web_server, new_page
) -> None:
    raw_key = api_key_create(org=datasheets_org, label="browser").raw_key
    answer = api_query(web_server.base_url, raw_key, query=QUESTION, mode="FAST")
    assert answer["chat_url"].startswith(f"{web_server.base_url}/Datasheets/chat/")
    assert answer["sources"]

    page = new_page()
    page.goto(answer["chat_url"])
    assert "/accounts/login/" in page.url  # a chat_url needs a login
    page.get_by_label("Username").fill(engineer[0])
    page.get_by_label("Password").fill(engineer[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(answer["chat_url"])

    question = page.locator("article.msg.user .question")
    assert question.inner_text() == QUESTION
    rendered = page.locator("article.msg.assistant .answer").inner_text()
    first_words = answer["final_answer"].split()[:4]
    assert " ".join(first_words) in " ".join(rendered.split())
    assert page.locator("article.msg.assistant .badge").first.inner_text() == "FAST"
    source_links = page.locator("section.sources a")
    assert source_links.count() == len(answer["sources"])
    for index, source in enumerate(answer["sources"]):
        assert source_links.nth(index).inner_text() == source["source_name"]
    shoot(page, "chat-thread-from-api")

    first = answer["sources"][0]
    source_links.first.click()
    page.wait_for_load_state()
    query = parse_qs(urlsplit(page.url).query)
    assert query["source_name"] == [first["source_name"]] and query["source_page"] == [str(first["page"])]
    assert page.locator("h1").inner_text() == first["source_name"]
    assert page.get_by_label("Page", exact=True).input_value() == str(first["page"])
    highlight = page.locator("mark.cited").first
    highlight.wait_for(state="visible")
    assert highlight.inner_text().strip()
    assert highlight.is_visible() and highlight.bounding_box()["height"] > 10
    # The passage the answer cites is the highlighted text on this page.
    chat = Chat.objects.get(pk=answer["chat_id"])
    stored = Message.objects.get(chat=chat, role="assistant").sources[0]
    passage_line = next(line for line in stored["passages"][0].split("\n") if len(line.strip()) > 12)
    highlighted = [" ".join(text.split()) for text in page.locator("mark.cited").all_inner_texts()]
    assert any(" ".join(passage_line.split()) in text for text in highlighted)
    image = page.locator("figure.page-image img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") == 1100
    pdf_href = page.get_by_role("link", name=f"Open the PDF at page {first['page']}").get_attribute("href")
    assert pdf_href.endswith(f"/file.pdf#page={first['page']}")
    pdf = page.request.get(web_server.base_url + pdf_href.split("#")[0])
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert page.locator(".topic-chip").first.inner_text() == "Sensors"
    shoot(page, "library-cited-page")

    page.get_by_role("link", name="Back to the thread").click()
    page.wait_for_url(answer["chat_url"])
    assert not page.console_errors


def test_the_rows_an_answer_quoted_are_outlined_on_the_rendered_page(
    datasheets_org, engineer, web_server, new_page
) -> None:
    raw_key = api_key_create(org=datasheets_org, label="rows").raw_key
    answer = api_query(web_server.base_url, raw_key, query=QUESTION, mode="FAST")
    first = answer["sources"][0]
    page = new_page()
    log_in(page, web_server.base_url, *engineer)
    page.goto(answer["chat_url"])
    page.locator("section.sources a").first.click()
    page.wait_for_load_state()
    image = page.locator("figure.page-image img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    marks = page.locator("figure.page-image .row-mark")
    assert marks.count() >= 1
    shoot(page, "library-quoted-rows")

    # Each outline is where its row stands on the page, and the row is one the answer states.
    document = Document.objects.get(org=datasheets_org, source_name=first["source_name"])
    units = PageUnits.objects.get(document=document, page=first["page"]).units
    rows = [int(part) for part in parse_qs(urlsplit(page.url).query)["rows"][0].split(",")]
    said = " ".join(answer["final_answer"].split())
    frame = image.bounding_box()
    served = page.request.get(web_server.base_url + image.get_attribute("src"))
    printed = Image.open(io.BytesIO(served.body())).convert("L")
    for index, row in enumerate(rows):
        assert _states(said, " ".join(units[row]["text"].split()))
        x0, top, x1, bottom = units[row]["box"]
        mark = marks.nth(index).bounding_box()
        assert abs(mark["x"] - (frame["x"] + x0 * frame["width"])) < 0.02 * frame["width"] + 2
        assert abs(mark["y"] - (frame["y"] + top * frame["height"])) < 0.02 * frame["height"] + 2
        assert abs(mark["x"] + mark["width"] - (frame["x"] + x1 * frame["width"])) < 0.02 * frame["width"] + 2
        assert abs(mark["y"] + mark["height"] - (frame["y"] + bottom * frame["height"])) < 0.02 * frame["height"] + 2
        # Under the outline is printed text, not blank paper: the PNG as served has ink there.
        inside = printed.crop(
            (
                int(x0 * printed.width),
                int(top * printed.height),
                int(x1 * printed.width) + 1,
                int(bottom * printed.height) + 1,
            )
        )
        dark = sum(inside.histogram()[:128])  # pixels darker than mid-grey
        assert dark >= 0.02 * inside.width * inside.height, (units[row]["text"], dark)
    assert not page.console_errors


def test_phone_width_pages_fit_the_screen(datasheets_org, engineer, web_server, new_page) -> None:
    raw_key = api_key_create(org=datasheets_org, label="phone").raw_key
    answer = api_query(web_server.base_url, raw_key, query=QUESTION, mode="FAST")
    page = new_page(PHONE)
    log_in(page, web_server.base_url, *engineer)
    for name, url in [
        ("phone-thread", answer["chat_url"]),
        ("phone-library", f"{web_server.base_url}/Datasheets/library"),
        ("phone-cited-page", answer["sources"][0]["url"]),
        ("phone-chat-list", f"{web_server.base_url}/Datasheets/chat/"),
    ]:
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px"
        shoot(page, name)
    assert not page.console_errors


# --- continuing a thread, with a model that streams slowly -------------------------------------------


SLOW_ANSWER = "The BME280 answers at I2C address **0x76** (SDO to GND) [1]."


@pytest.fixture
def slow_model() -> Iterator[FakeLlm]:
    """A model that streams word by word and holds its last three words back until `release()`,
    so the test can see the first words on the page while the answer is still being produced."""
    reply = Reply(SLOW_ANSWER, token_delay_s=0.05, held_after=len(SLOW_ANSWER.split(" ")) - 3)
    with FakeLlm(reply) as model:
        model.hold()
        yield model


@pytest.fixture
def server_with_slow_model(transactional_db, slow_model):
    server = start_browser_server(
        workers=1,
        log_name="browser-stream-server",
        extra_env={"LLM_BACKEND": "openai", "LLM_BASE_URL": slow_model.base_url, "LLM_MODEL": "slow"},
    )
    try:
        yield server
    finally:
        stop_server(server)


def test_continuing_a_thread_streams_the_answer_and_stores_it_on_the_same_chat(
    datasheets_org, engineer, server_with_slow_model, slow_model, new_page
) -> None:
    server = server_with_slow_model
    chat = Chat.objects.create(org=datasheets_org, user_id="usr_82af91", title="BME280 basics")
    Message.objects.create(chat=chat, role="user", content="Tell me about the BME280.", requested_mode="AUTO")
    Message.objects.create(
        chat=chat, role="assistant", content="A humidity, pressure and temperature sensor.", mode="FAST"
    )
    chat_url = f"{server.base_url}/Datasheets/chat/{chat.pk}"

    page = new_page()
    log_in(page, server.base_url, *engineer)
    page.goto(chat_url)
    assert page.locator("article.msg").count() == 2

    # Keyboard only: tab to the question box, type, pick FAST, press Enter.
    box = page.get_by_label("Continue the thread")
    box.focus()
    page.keyboard.type(QUESTION)
    page.get_by_label("Mode").select_option("FAST")
    box.focus()
    page.keyboard.press("Enter")

    streaming = page.locator("#streaming-answer")
    # The first question of a fresh server loads the embedding model: allow for a busy machine.
    page.wait_for_function(
        "() => (document.querySelector('#streaming-answer')?.textContent || '').includes('I2C address')",
        timeout=120_000,
    )
    partial = streaming.inner_text()
    assert "The BME280 answers at I2C address" in partial
    assert "GND" not in partial  # the model has not sent the rest yet
    assert page.get_by_role("button", name="Answering…").is_disabled()
    assert page.locator("article.msg.assistant .badge.mode-FAST").last.is_visible()
    shoot(page, "chat-streaming", full_page=False)

    slow_model.release()
    page.wait_for_function(
        "() => !document.querySelector('#streaming-answer') && document.querySelectorAll('article.msg').length === 4"
    )
    final = page.locator("article.msg.assistant .answer").last
    assert final.locator("strong").inner_text() == "0x76"  # stored Markdown, rendered
    assert "[1]" not in final.inner_text()
    assert page.locator("article.msg.assistant").last.locator("section.sources a").count() >= 1
    assert page.get_by_role("status").inner_text().startswith("Answered in")
    assert page.url == chat_url
    shoot(page, "chat-streamed-answer")

    page.reload()
    assert page.locator("article.msg").count() == 4
    assert page.locator("article.msg.user .question").last.inner_text() == QUESTION
    assert "0x76" in page.locator("article.msg.assistant .answer").last.inner_text()
    stored = list(Message.objects.filter(chat=chat).order_by("created_at", "id"))
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[-1].content.startswith("The BME280 answers at I2C address **0x76** (SDO to GND)")
    assert "[1]" not in stored[-1].content and stored[-1].sources
    assert Chat.objects.filter(org=datasheets_org).count() == 1
    assert not page.console_errors


def test_new_chat_from_the_list_page_gets_its_own_address(datasheets_org, engineer, web_server, new_page) -> None:
    page = new_page()
    log_in(page, web_server.base_url, *engineer)
    assert page.url == f"{web_server.base_url}/Datasheets/chat/"
    page.get_by_role("link", name="New chat").first.click()
    page.get_by_label("Your question").fill("What is the maximum drain current of the IRF540N?")
    page.get_by_role("button", name="Ask").click()
    page.wait_for_function(
        "() => document.querySelectorAll('article.msg.assistant section.sources a').length > 0", timeout=120_000
    )
    chat = Chat.objects.get(org=datasheets_org)
    assert page.url == f"{web_server.base_url}/Datasheets/chat/{chat.pk}"
    assert chat.user_id == "ada"
    page.goto(f"{web_server.base_url}/Datasheets/chat/?q=drain")
    assert page.locator(".thread-title").first.inner_text().startswith("What is the maximum drain current")
    shoot(page, "chat-list")


def test_answer_and_page_text_with_html_are_shown_as_text_and_never_run(
    datasheets_org, engineer, web_server, new_page
) -> None:
    from library.models import Chunk

    chunk = Chunk.objects.filter(document__source_name="bosch-bme280.pdf", page=5).order_by("ordinal").first()
    assert chunk is not None
    Chunk.objects.filter(pk=chunk.pk).update(
        text='<script>window.pwned = "pdf"</script>\n<img src=x onerror="window.pwned=1">'
    )
    chat = Chat.objects.create(org=datasheets_org, user_id="u1", title="<b>bold title</b>")
    Message.objects.create(chat=chat, role="user", content="<img src=x onerror=\"window.pwned='q'\">?")
    Message.objects.create(
        chat=chat,
        role="assistant",
        content="Pins:\n\n- <script>window.pwned = 'answer'</script>\n- <img src=x onerror=\"window.pwned='a'\">",
        mode="FAST",
        sources=[{"source_name": "bosch-bme280.pdf", "page": 5, "chunk_ids": [chunk.pk], "passages": []}],
    )
    page = new_page()
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    log_in(page, web_server.base_url, *engineer)
    page.goto(f"{web_server.base_url}/Datasheets/chat/{chat.pk}")
    answer = page.locator("article.msg.assistant .answer").inner_text()
    assert "<script>window.pwned = 'answer'</script>" in answer
    assert "<img src=x onerror=\"window.pwned='a'\">" in answer
    assert page.locator("article.msg.assistant .answer li").count() == 2  # the list is still a list
    assert page.locator("article.msg.user .question").inner_text() == "<img src=x onerror=\"window.pwned='q'\">?"
    assert page.locator("main img").count() == 0 and page.locator("main script").count() == 0
    shoot(page, "xss-answer-as-text")
    page.locator("section.sources a").first.click()
    page.wait_for_load_state()
    cited = page.locator("mark.cited").inner_text()
    assert '<script>window.pwned = "pdf"</script>' in cited and 'onerror="window.pwned=1"' in cited
    assert page.locator(".page-text img, .page-text script").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None and not dialogs
    shoot(page, "xss-page-text-as-text")


def _states(answer: str, unit: str) -> bool:
    """Whether the answer states the unit, written out plainly: every value cell of a row
    ("Max.: 2 ms"), or a sentence of a paragraph of at least 40 characters."""
    if unit.count(" · ") >= 2:
        values = [cell for cell in unit.split(" · ") if re.search(r"\d", cell.split(": ", 1)[-1])]
        return all(cell.split(": ", 1)[-1].rstrip(".") in answer for cell in values)
    return any(len(s) >= 40 and s in answer for s in re.split(r"(?<=[.;!?])\s+", unit))
