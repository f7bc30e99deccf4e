"""The Django admin uploads through document_upload, re-ingests, and stays within the admin's orgs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from library.models import Chunk, Document
from library.services import document_upload
from tests.library.conftest import ingest
from tests.library.pdfs import sample_pages, text_pdf_bytes
from topics.services import topic_create


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def _add(client: Client, org, data: bytes, name: str = "mcx900.pdf", topics=()):
    return client.post(
        "/admin/library/document/add/",
        {"org": org.pk, "file": SimpleUploadedFile(name, data, "application/pdf"), "topics": [t.pk for t in topics]},
        follow=True,
    )


def _stored(org, name: str) -> Document:
    return document_upload(org=org, filename=name, data=text_pdf_bytes([name]), enqueue=lambda _: None).document


@pytest.mark.django_db
def test_an_org_admin_uploads_a_pdf_that_is_queued_through_the_service(
    owner_client, org, django_capture_on_commit_callbacks
) -> None:
    topic = topic_create(org=org, name="Sensors")
    data = text_pdf_bytes(sample_pages(2))
    with django_capture_on_commit_callbacks() as callbacks:
        response = _add(owner_client, org, data, topics=[topic])
    assert response.status_code == 200
    document = Document.objects.get(org=org)
    assert document.source_name == "mcx900.pdf" and document.status == "queued" and document.size_bytes == len(data)
    assert [t.name for t in document.topics.all()] == ["Sensors"]
    assert document.uploaded_by is not None and document.uploaded_by.username == "owner"
    assert len(callbacks) == 1
    assert "queued for ingestion" in response.text

    again = _add(owner_client, org, data, name="copy.pdf")
    assert "already in the library" in again.text and Document.objects.count() == 1


@pytest.mark.django_db
def test_the_admin_refuses_a_file_over_max_upload_mb(owner_client, org, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    response = _add(owner_client, org, text_pdf_bytes(["x"]) + b"%" + b"x" * (1024 * 1024))
    assert response.status_code == 413
    assert "The file is larger than the 1 MB this server accepts." in response.text and not Document.objects.exists()


@pytest.mark.django_db
def test_the_reingest_action_queues_the_selected_documents_again(
    owner_client, org, django_capture_on_commit_callbacks
) -> None:
    document = ingest(_stored(org, "a.pdf"))
    assert document.status == "ready"
    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(
            "/admin/library/document/", {"action": "reingest", "_selected_action": [document.pk]}, follow=True
        )
    document.refresh_from_db()
    assert document.status == "queued" and len(callbacks) == 1
    assert Chunk.objects.filter(document=document).exists()  # the old chunks answer until replaced


@pytest.mark.django_db
def test_an_org_admin_sees_only_their_orgs_documents_and_chunks(owner_client, org, other_org) -> None:
    ours = ingest(_stored(org, "ours.pdf"))
    theirs = _stored(other_org, "theirs.pdf")
    listing = owner_client.get("/admin/library/document/")
    assert "ours.pdf" in listing.text and "theirs.pdf" not in listing.text
    assert owner_client.get(f"/admin/library/document/{theirs.pk}/change/").status_code in (302, 403, 404)
    assert owner_client.get(f"/admin/library/document/{ours.pk}/change/").status_code == 200
    chunks = owner_client.get("/admin/library/chunk/")
    assert chunks.status_code == 200 and "ours.pdf" in chunks.text


@pytest.mark.django_db
def test_chunks_are_read_only_in_the_admin(owner_client, org) -> None:
    document = ingest(_stored(org, "a.pdf"))
    chunk = Chunk.objects.filter(document=document).first()
    assert chunk is not None
    assert owner_client.get("/admin/library/chunk/add/").status_code == 403
    page = owner_client.get(f"/admin/library/chunk/{chunk.pk}/change/")
    assert page.status_code == 200 and 'name="text"' not in page.text  # shown, not editable
