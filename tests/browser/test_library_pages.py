"""A person in Chromium: an admin uploads datasheets and watches ingestion; a stranger sees nothing."""

import base64
from typing import Any

from chat.models import Chat, Message
from library.models import Document
from orgs.services import member_create, org_create
from tests.browser.conftest import log_in, shoot, wait_until
from tests.conftest import DATASHEETS
from topics.services import topic_create

UPLOADS = ["infineon-irf540n.pdf", "renesas-icl7660.pdf"]

DROP_FILES = """
([zoneSelector, files]) => {
  const transfer = new DataTransfer();
  for (const file of files) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], file.name, { type: "application/pdf" }));
  }
  const zone = document.querySelector(zoneSelector);
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}
"""


def test_admin_drops_pdfs_and_watches_them_become_ready(transactional_db, web_server, celery_worker, new_page) -> None:
    org = org_create(name="Power-Lab")
    topic_create(org=org, name="Power")
    topic_create(org=org, name="Sensors")
    member_create(org=org, username="grace", password="grace-pass-123", admin=True)

    page = new_page()
    log_in(page, web_server.base_url, "grace", "grace-pass-123")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    assert page.get_by_text("The library is empty.").is_visible()

    files = [{"name": name, "data": base64.b64encode((DATASHEETS / name).read_bytes()).decode()} for name in UPLOADS]
    page.evaluate(DROP_FILES, ["#dropzone", files])
    assert page.locator("#file-list li").all_inner_texts()[0].startswith("infineon-irf540n.pdf")
    page.get_by_label("Topic", exact=True).select_option(label="Power")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(f"{web_server.base_url}/Power-Lab/library")
    assert page.get_by_text("infineon-irf540n.pdf uploaded and queued for ingestion.").is_visible()
    documents = list(Document.objects.filter(org=org).order_by("source_name"))
    assert [d.source_name for d in documents] == UPLOADS
    assert all([t.name for t in d.topics.all()] == ["Power"] for d in documents)
    shoot(page, "library-upload-queued")

    # From here the page is never reloaded: it polls and updates itself.
    page.evaluate("window.stillTheSamePage = true")
    topic = documents[0].topics.first()
    assert topic is not None
    rows = page.locator(f"#topic-{topic.pk} tr[data-doc]")
    assert rows.count() == 2
    seen: set[str] = set()

    def all_ready() -> bool:
        badges = page.locator("#library [data-role=badge]").all_text_contents()
        seen.update(badges)
        return badges == ["Ready", "Ready"]

    wait_until(all_ready, 240, lambda: f"ingestion did not finish; seen {seen}\n{celery_worker.log()[-3000:]}")
    assert page.evaluate("window.stillTheSamePage") is True
    assert seen & {"Queued", "Processing"}
    assert Document.objects.filter(org=org, status="ready").count() == 2
    lines = page.locator("#library [data-role=line]").all_inner_texts()
    assert lines == [f"{Document.objects.get(org=org, source_name=name).pages_total} pages" for name in UPLOADS]
    assert page.locator("#library progress:visible").count() == 0
    shoot(page, "library-ready")
    _read_a_page_of(page, "infineon-irf540n.pdf")
    _delete_with_confirmation(page, "renesas-icl7660.pdf")
    assert list(Document.objects.filter(org=org).values_list("source_name", flat=True)) == ["infineon-irf540n.pdf"]
    assert not page.console_errors


def _read_a_page_of(page: Any, source_name: str) -> None:
    """Open the document's first page from the library, step to page 2 and back by keyboard."""
    page.get_by_role("link", name=source_name, exact=True).click()
    assert page.locator("h1").inner_text() == source_name
    assert page.locator(".page-text .line").count() > 5
    page.get_by_role("link", name="Page 2 →").click()
    assert page.get_by_label("Page", exact=True).input_value() == "2"
    page.keyboard.press("ArrowLeft")
    page.wait_for_url("**source_page=1**")
    shoot(page, "library-document-page")


def _delete_with_confirmation(page: Any, source_name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    page.get_by_role("link", name=f"Delete {source_name}").click()
    assert page.get_by_role("heading", name=f"Delete {source_name}?").is_visible()
    shoot(page, "library-delete-confirm", full_page=False)
    page.get_by_role("button", name="Delete").click()
    assert page.get_by_text(f"{source_name} was deleted").is_visible()


def test_member_of_another_org_gets_no_data(datasheets_org, web_server, new_page) -> None:
    chat = Chat.objects.create(org=datasheets_org, user_id="usr_secret", title="Datasheets-only thread")
    Message.objects.create(chat=chat, role="user", content="Confidential BME280 question")
    document = Document.objects.get(org=datasheets_org, source_name="bosch-bme280.pdf")
    other = org_create(name="Globex")
    member_create(org=other, username="mallory", password="mallory-pass-1")
    base = web_server.base_url

    page = new_page()
    log_in(page, base, "mallory", "mallory-pass-1")
    assert page.url == f"{base}/Globex/chat/"
    assert "Datasheets-only thread" not in page.content()
    for url in [
        f"{base}/Datasheets/chat/{chat.pk}",
        f"{base}/Datasheets/chat/",
        f"{base}/Datasheets/library",
        f"{base}/Datasheets/library?source_name=bosch-bme280.pdf&source_page=1&source_type=text",
        f"{base}/Globex/chat/{chat.pk}",
        f"{base}/Globex/library?source_name=bosch-bme280.pdf&source_page=1&source_type=text",
    ]:
        response = page.goto(url)
        assert response.status == 404, url
        body = page.content()
        assert "Confidential" not in body and "Datasheets-only" not in body, url
        assert "/pages/1.png" not in body and "Sensors" not in body, url
        assert page.get_by_role("heading", name="Not found").is_visible()
    shoot(page, "stranger-404")
    for url in [
        f"{base}/Datasheets/library/documents/{document.pk}/file.pdf",
        f"{base}/Datasheets/library/documents/{document.pk}/pages/1.png",
        f"{base}/Globex/library/documents/{document.pk}/file.pdf",
        f"{base}/Datasheets/library/progress",
    ]:
        assert page.request.get(url).status == 404, url
