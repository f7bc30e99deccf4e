"""A document's live version changes only when a newer version is ready.

A re-upload that fails leaves the previous version live: its chunks, pages, file and URLs;
the failed attempt and its reason are shown beside it (API, library page, admin).
"""

from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.errors import UnsupportedMediaType
from library.models import Chunk, Document
from library.services import document_reingest
from tests.library.conftest import ingest
from tests.library.pdfs import sample_pages, text_pdf_bytes

V1 = text_pdf_bytes(sample_pages(3, "first"))
V3 = text_pdf_bytes(sample_pages(2, "third"))


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.fixture
def live(upload) -> Document:
    document = ingest(upload("mcx900.pdf", V1))
    assert document.status == Document.Status.READY and document.live_version == 1
    return document


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def _chunks(document: Document) -> list[tuple[int, int, str]]:
    return list(Chunk.objects.filter(document=document).values_list("pk", "page", "text"))


@pytest.mark.django_db
def test_a_failed_re_upload_leaves_the_previous_version_live(upload, live, owner_client) -> None:
    chunks = _chunks(live)
    failed = ingest(upload("mcx900.pdf", _truncated(V3)))

    assert failed.pk == live.pk
    assert (failed.version, failed.status, failed.live_version) == (2, Document.Status.FAILED, 1)
    assert "damaged or truncated" in failed.error
    assert _chunks(failed) == chunks
    assert failed.live_pages_total == 3 and failed.served_file.read() == V1

    # The library keeps serving version 1: every page, its image and its file.
    for page in (1, 2, 3):
        response = owner_client.get(f"/Acme/library?source_name=mcx900.pdf&source_page={page}&source_type=text")
        assert response.status_code == 200 and "first" in response.content.decode()
    image = owner_client.get(f"/Acme/library/documents/{live.pk}/pages/3.png")
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    pdf = owner_client.get(f"/Acme/library/documents/{live.pk}/file.pdf")
    assert b"".join(pdf.streaming_content) == V1


@pytest.mark.django_db
def test_the_failed_attempt_is_shown_beside_the_live_version(upload, live, raw_key, owner_client) -> None:
    ingest(upload("mcx900.pdf", _truncated(V3)))
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    body = client.get(f"/library/documents/{live.pk}/").json()
    assert (body["version"], body["status"], body["live_version"], body["live_pages_total"]) == (2, "failed", 1, 3)
    assert "damaged or truncated" in body["error"]
    assert body["status_line"].endswith("Version 1 (3 pages) stays live.")

    page = owner_client.get("/Acme/library").content.decode()
    assert "damaged or truncated" in page and "Version 1 (3 pages) stays live." in page
    admin = owner_client.get(f"/admin/library/document/{live.pk}/change/").content.decode()
    assert "damaged or truncated" in admin and "Version 1 (3 pages) stays live." in admin


@pytest.mark.django_db
def test_a_new_version_goes_live_only_when_ready_and_the_old_file_goes(
    upload, live, owner_client, django_capture_on_commit_callbacks
) -> None:
    old_file = Path(live.file.path)
    queued = upload("mcx900.pdf", V3)
    assert (queued.status, queued.version, queued.live_version) == (Document.Status.QUEUED, 2, 1)
    assert owner_client.get("/Acme/library?source_name=mcx900.pdf&source_page=3&source_type=text").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        ready = ingest(queued)
    assert (ready.status, ready.version, ready.live_version, ready.live_pages_total) == ("ready", 2, 2, 2)
    assert all("third" in text for _, _, text in _chunks(ready))
    assert ready.served_file.read() == V3 and not old_file.exists()
    # The new version has two pages: a URL of page 3 no longer points anywhere.
    assert owner_client.get("/Acme/library?source_name=mcx900.pdf&source_page=3&source_type=text").status_code == 404


@pytest.mark.django_db
def test_a_file_that_is_not_a_pdf_under_a_live_name_changes_nothing(upload, live) -> None:
    before = (_chunks(live), live.file.name, live.version)
    with pytest.raises(UnsupportedMediaType):
        upload("mcx900.pdf", b"not a pdf at all")
    live.refresh_from_db()
    assert (_chunks(live), live.file.name, live.version) == before and live.status == Document.Status.READY


@pytest.mark.django_db
def test_uploading_the_live_bytes_again_drops_the_failed_attempt(
    upload, live, django_capture_on_commit_callbacks
) -> None:
    failed = ingest(upload("mcx900.pdf", _truncated(V3)))
    failed_file = Path(failed.file.path)
    with django_capture_on_commit_callbacks(execute=True):
        restored = upload("mcx900.pdf", V1)
    restored.refresh_from_db()
    assert (restored.status, restored.version, restored.live_version, restored.error) == ("ready", 1, 1, "")
    assert restored.file.name == restored.live_file.name and not failed_file.exists()


@pytest.mark.django_db
def test_a_failed_re_ingest_of_the_live_version_keeps_it_answering(live) -> None:
    chunks = _chunks(live)
    Path(live.file.path).write_bytes(_truncated(V1))  # the stored file went bad on disk
    document = ingest(document_reingest(document=live, enqueue=lambda _: None))
    assert document.status == Document.Status.FAILED and document.live_version == 1
    assert _chunks(document) == chunks
