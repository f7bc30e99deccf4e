"""The library web pages: index, upload, re-ingest/delete, a cited page, its image and its PDF."""

import re

import pytest
from django.test import Client

from library.models import Chunk, Document
from library.services import NOT_A_PDF
from orgs.services import member_create
from tests.conftest import DATASHEETS
from topics.services import topic_create

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def engineer(datasheets_org):
    return member_create(org=datasheets_org, username="engineer", password="engineer-pass-1").user


@pytest.fixture
def librarian(datasheets_org):
    return member_create(org=datasheets_org, username="librarian", password="librarian-pass-1", admin=True).user


def bme280(org) -> Document:
    return Document.objects.get(org=org, source_name="bosch-bme280.pdf")


def source_page(org_name: str, source_name: str, page: object, **extra: str) -> str:
    from urllib.parse import quote, urlencode

    query = urlencode({"source_name": source_name, "source_page": page, "source_type": "text", **extra})
    return f"/{quote(org_name)}/library?{query}"


# --- access ----------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_the_login_page(org) -> None:
    response = Client().get("/Acme/library")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/Acme/library")


def test_member_of_another_org_gets_404_on_every_library_url(datasheets_org, stranger) -> None:
    document = bme280(datasheets_org)
    client = logged_in(stranger)
    urls = [
        "/Datasheets/library",
        source_page("Datasheets", "bosch-bme280.pdf", 1),
        "/Datasheets/library/progress",
        f"/Datasheets/library/documents/{document.pk}/file.pdf",
        f"/Datasheets/library/documents/{document.pk}/pages/1.png",
        f"/Datasheets/library/documents/{document.pk}/delete",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"bosch-bme280" not in response.content
    assert client.post("/Datasheets/library/upload", {}).status_code == 404
    assert Document.objects.filter(pk=document.pk).exists()


def test_a_document_of_another_org_is_not_found_under_ones_own_org(datasheets_org, other_org, stranger) -> None:
    document = bme280(datasheets_org)
    client = logged_in(stranger)
    assert client.get(f"/Globex/library/documents/{document.pk}/file.pdf").status_code == 404
    assert client.get(f"/Globex/library/documents/{document.pk}/pages/1.png").status_code == 404
    response = client.get(source_page("Globex", "bosch-bme280.pdf", 1))
    assert response.status_code == 404
    assert "There is no document named" in response.content.decode()


# --- the index -------------------------------------------------------------------------------


def test_member_sees_topics_documents_and_status_but_no_upload_form(datasheets_org, engineer) -> None:
    response = logged_in(engineer).get("/Datasheets/library")
    page = response.content.decode()
    assert response.status_code == 200
    for topic in ["Sensors", "Data converters", "Interface", "Power", "Wireless"]:
        assert topic in page
    assert "bosch-bme280.pdf" in page and "espressif-esp32-wroom-32.pdf" in page
    assert 'class="badge ready"' in page
    assert "upload-form" not in page and "Re-ingest" not in page


def test_admin_sees_upload_form_and_actions(datasheets_org, librarian) -> None:
    page = logged_in(librarian).get("/Datasheets/library").content.decode()
    assert 'id="upload-form"' in page and 'enctype="multipart/form-data"' in page and "multiple" in page
    assert f"/Datasheets/library/documents/{bme280(datasheets_org).pk}/delete" in page


def test_progress_json_reports_every_document(datasheets_org, engineer) -> None:
    Document.objects.filter(pk=bme280(datasheets_org).pk).update(status="processing", pages_done=15, pages_total=60)
    data = logged_in(engineer).get("/Datasheets/library/progress").json()
    assert data["active"] == 1
    row = next(row for row in data["documents"] if row["id"] == bme280(datasheets_org).pk)
    assert row["status"] == "processing" and row["pages_done"] == 15 and row["pages_total"] == 60
    assert row["percent"] == 25 and row["active"] is True


# --- upload, re-ingest, delete ------------------------------------------------------------------


def test_admin_uploads_several_pdfs_into_a_topic(org, owner) -> None:
    topic = topic_create(org=org, name="Power")
    client = logged_in(owner)
    with open(DATASHEETS / "infineon-irf540n.pdf", "rb") as one, open(DATASHEETS / "renesas-icl7660.pdf", "rb") as two:
        response = client.post("/Acme/library/upload", {"files": [one, two], "topic": topic.pk})
    assert response.status_code == 302
    documents = Document.objects.filter(org=org).order_by("source_name")
    assert [d.source_name for d in documents] == ["infineon-irf540n.pdf", "renesas-icl7660.pdf"]
    assert all(d.status == "queued" and list(d.topics.all()) == [topic] for d in documents)
    page = client.get("/Acme/library").content.decode()
    assert "infineon-irf540n.pdf uploaded and queued" in page


def test_a_batch_with_one_non_pdf_stores_nothing(org, owner, tmp_path) -> None:
    fake = tmp_path / "notes.pdf"
    fake.write_text("<script>alert(1)</script> not a pdf")
    with open(DATASHEETS / "infineon-irf540n.pdf", "rb") as real, open(fake, "rb") as bad:
        response = logged_in(owner).post("/Acme/library/upload", {"files": [real, bad]})
    assert response.status_code == 415
    assert f"notes.pdf: {NOT_A_PDF}" in response.content.decode()
    assert "<script>alert(1)" not in response.content.decode()
    assert not Document.objects.filter(org=org).exists()


def test_member_cannot_upload_reingest_or_delete(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    client = logged_in(engineer)
    with open(DATASHEETS / "infineon-irf540n.pdf", "rb") as handle:
        assert client.post("/Datasheets/library/upload", {"files": [handle]}).status_code == 403
    assert client.post(f"/Datasheets/library/documents/{document.pk}/delete").status_code == 403
    assert client.post(f"/Datasheets/library/documents/{document.pk}/reingest").status_code == 403
    assert Document.objects.filter(pk=document.pk, status="ready").exists()


def test_delete_asks_for_confirmation_then_deletes(datasheets_org, librarian) -> None:
    document = bme280(datasheets_org)
    client = logged_in(librarian)
    confirm = client.get(f"/Datasheets/library/documents/{document.pk}/delete")
    assert (
        confirm.status_code == 200 and 'Delete <span class="mono">bosch-bme280.pdf</span>?' in confirm.content.decode()
    )
    assert Document.objects.filter(pk=document.pk).exists()
    client.get(f"/Datasheets/library/documents/{document.pk}/pages/1.png")
    from library.page_images import page_image_path

    render = page_image_path(document, 1)
    assert render.exists()
    response = client.post(f"/Datasheets/library/documents/{document.pk}/delete")
    assert response.status_code == 302
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not render.parent.exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()


def test_reingest_asks_for_confirmation_then_queues(datasheets_org, librarian) -> None:
    document = bme280(datasheets_org)
    client = logged_in(librarian)
    assert "Re-ingest" in client.get(f"/Datasheets/library/documents/{document.pk}/reingest").content.decode()
    assert Document.objects.get(pk=document.pk).status == "ready"
    client.post(f"/Datasheets/library/documents/{document.pk}/reingest")
    assert Document.objects.get(pk=document.pk).status == "queued"


def test_upload_and_delete_need_the_csrf_token(datasheets_org, librarian) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(librarian)
    document = bme280(datasheets_org)
    assert client.post(f"/Datasheets/library/documents/{document.pk}/delete").status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()


# --- a cited page ----------------------------------------------------------------------------


def test_cited_page_shows_text_image_pdf_link_neighbours_and_topics(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    response = logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", 2))
    page = response.content.decode()
    assert response.status_code == 200
    chunk = Chunk.objects.filter(document=document, page=2).order_by("ordinal").first()
    assert chunk is not None
    first_line = chunk.text.split("\n")[0]
    from django.utils.html import escape

    assert escape(first_line) in page
    assert f"/Datasheets/library/documents/{document.pk}/pages/2.png" in page
    assert f"/Datasheets/library/documents/{document.pk}/file.pdf#page=2" in page
    assert "source_page=1" in page and "source_page=3" in page
    assert "Sensors" in page
    assert "<mark" not in page  # nothing cited without a citation


def test_overlapping_chunk_lines_are_shown_once(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    pages: dict[int, list[str]] = {}
    for page_number, text in Chunk.objects.filter(document=document).values_list("page", "text"):
        pages.setdefault(page_number, []).append(text)
    page_number = next(number for number, texts in pages.items() if len(texts) >= 2)
    chunks = list(Chunk.objects.filter(document=document, page=page_number).order_by("ordinal"))
    tail = chunks[0].text.split("\n")[-1]
    assert chunks[1].text.split("\n")[0] == tail or tail in chunks[1].text  # the pipeline overlaps
    page = logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", page_number)).content.decode()
    from django.utils.html import escape

    lines = re.findall(r'<span class="line">(.*?)</span>', page, re.S)
    joined_chunks = sum(len(chunk.text.split("\n")) for chunk in chunks)
    assert escape(tail) in lines
    assert len(lines) < joined_chunks


def test_cited_chunks_are_highlighted(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    chunk = Chunk.objects.filter(document=document, page=3).order_by("ordinal").last()
    assert chunk is not None
    page = (
        logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", 3, cite=str(chunk.pk))).content.decode()
    )
    marked = re.search(r'<mark id="cited-1" class="cited"[^>]*>(.*?)</mark>', page, re.S)
    assert marked is not None
    from django.utils.html import escape

    assert escape(chunk.text.split("\n")[-1]) in marked.group(1)


def test_a_chunk_id_of_another_page_highlights_nothing(datasheets_org, engineer) -> None:
    other = Chunk.objects.filter(document=bme280(datasheets_org), page=5).first()
    assert other is not None
    page = (
        logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", 3, cite=str(other.pk))).content.decode()
    )
    assert "<mark" not in page


@pytest.mark.parametrize(
    ("source_name", "page", "reason"),
    [
        ("no-such-part.pdf", 1, "There is no document named “no-such-part.pdf”"),
        ("../../../etc/passwd", 1, "There is no document named"),
        ("bosch-bme280.pdf", 999, "bosch-bme280.pdf has no page “999”; it has 60 pages."),
        ("bosch-bme280.pdf", 0, "has no page “0”"),
        ("bosch-bme280.pdf", "two", "has no page “two”"),
    ],
)
def test_unknown_source_or_page_is_a_clear_404(datasheets_org, engineer, source_name, page, reason) -> None:
    response = logged_in(engineer).get(source_page("Datasheets", source_name, page))
    assert response.status_code == 404
    assert reason in response.content.decode()
    assert "<h1>Not found</h1>" in response.content.decode()


def test_page_text_with_html_is_shown_as_text(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    Chunk.objects.filter(document=document, page=4).update(
        text='Pin VDDIO <script>alert("pdf")</script>\n<img src=x onerror=alert(1)> SDO'
    )
    page = logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", 4)).content.decode()
    assert "&lt;script&gt;alert(&quot;pdf&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page


# --- the PDF and the page image ------------------------------------------------------------------


def test_original_pdf_is_served_inline(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    response = logged_in(engineer).get(f"/Datasheets/library/documents/{document.pk}/file.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert response.getvalue() == (DATASHEETS / "bosch-bme280.pdf").read_bytes()


def test_page_image_is_a_png_rendered_once_and_cached(datasheets_org, engineer, settings) -> None:
    from library.page_images import page_image_path

    document = bme280(datasheets_org)
    cached = page_image_path(document, 7)
    cached.unlink(missing_ok=True)
    client = logged_in(engineer)
    response = client.get(f"/Datasheets/library/documents/{document.pk}/pages/7.png")
    body = response.getvalue()
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(body[16:20], "big"), int.from_bytes(body[20:24], "big")
    assert width == 1100 and 1400 < height < 1700  # A4 portrait
    assert cached.exists() and cached.read_bytes() == body
    assert client.get(f"/Datasheets/library/documents/{document.pk}/pages/61.png").status_code == 404


def test_symbol_font_glyphs_show_as_the_characters_they_draw(datasheets_org, engineer) -> None:
    document = bme280(datasheets_org)
    Chunk.objects.filter(document=document, page=6).update(text="IDD 3.6 \uf06dA at 25 \uf0b0C\nR = 44 m\uf057")
    page = logged_in(engineer).get(source_page("Datasheets", "bosch-bme280.pdf", 6)).content.decode()
    assert "IDD 3.6 μA at 25 °C" in page and "R = 44 mΩ" in page


def test_queued_document_shows_its_place_in_the_queue(datasheets_org, engineer) -> None:
    from core import clock

    Document.objects.filter(pk=bme280(datasheets_org).pk).update(status="queued", pages_done=0, queued_at=clock.now())
    page = logged_in(engineer).get("/Datasheets/library").content.decode()
    assert 'class="badge queued"' in page and "Queued" in page and "next in line" in page
    assert 'data-active="1"' in page  # the page starts polling


def test_words_of_the_question_are_marked_in_bold_on_the_page(datasheets_org, engineer) -> None:
    chunk = Chunk.objects.filter(document=bme280(datasheets_org), text__contains="I2C address").first()
    assert chunk is not None
    question = 'What is the I2C address of the BME280? <script>alert("q")</script>'
    url = source_page("Datasheets", "bosch-bme280.pdf", chunk.page, q=question)
    page = logged_in(engineer).get(url).content.decode()
    assert '<b class="term">I2C</b> <b class="term">address</b>' in page
    assert '<b class="term">What</b>' not in page and '<b class="term">the</b>' not in page
    assert "<script>alert" not in page
    assert "q=What+is+the+I2C+address" in page  # kept on previous/next links
