"""POST/GET /library/documents/ and GET /library/documents/{id}/: upload, status, progress, org scoping."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient, APIRequestFactory

from library.apis import DocumentListApi
from library.models import Document
from library.services import NOT_A_PDF, document_upload
from tests.library.pdfs import sample_pages, text_pdf_bytes
from topics.services import topic_create

URL = "/library/documents/"


def pdf_file(name: str = "mcx900.pdf", data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data or text_pdf_bytes(sample_pages(2, name)), content_type="application/pdf")


@pytest.mark.django_db
def test_upload_returns_202_with_the_queued_document_and_queues_it_on_commit(
    client_with_key, org, django_capture_on_commit_callbacks
) -> None:
    topic_create(org=org, name="Sensors")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_with_key.post(URL, {"file": pdf_file(), "topic_names": ["sensors"]}, format="multipart")
    assert response.status_code == 202, response.content
    body = response.json()
    document = Document.objects.get(pk=body["id"])
    assert document.org == org
    assert body["source_name"] == "mcx900.pdf" and body["status"] == "queued" and body["version"] == 1
    assert body["topics"] == ["Sensors"]
    assert body["pages_done"] == 0 and body["pages_total"] is None and body["queue_position"] == 0
    assert body["status_line"].lower().startswith(("queued", "no ingestion worker"))
    assert len(callbacks) == 1  # the ingest task, sent once the upload is committed


@pytest.mark.django_db
def test_the_same_bytes_again_return_200_with_the_existing_document_and_queue_nothing(
    client_with_key, django_capture_on_commit_callbacks
) -> None:
    data = text_pdf_bytes(sample_pages(2))
    first = client_with_key.post(URL, {"file": pdf_file("a.pdf", data)}, format="multipart").json()
    with django_capture_on_commit_callbacks() as callbacks:
        again = client_with_key.post(URL, {"file": pdf_file("renamed.pdf", data)}, format="multipart")
    assert again.status_code == 200
    assert again.json()["id"] == first["id"] and again.json()["source_name"] == "a.pdf"
    assert callbacks == [] and Document.objects.count() == 1


@pytest.mark.django_db
def test_a_new_file_under_an_existing_name_is_a_new_version_of_that_document(client_with_key) -> None:
    first = client_with_key.post(URL, {"file": pdf_file("a.pdf")}, format="multipart").json()
    second = client_with_key.post(URL, {"file": pdf_file("a.pdf", text_pdf_bytes(["new"]))}, format="multipart")
    assert second.status_code == 202
    assert second.json()["id"] == first["id"] and second.json()["version"] == 2


@pytest.mark.django_db
def test_an_unknown_topic_is_refused_with_400_and_nothing_is_stored(client_with_key) -> None:
    response = client_with_key.post(URL, {"file": pdf_file(), "topic_names": ["Nope"]}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_topic" and response.json()["unknown_topics"] == ["Nope"]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_a_request_without_a_file_is_invalid(client_with_key) -> None:
    response = client_with_key.post(URL, {"topic_names": ["x"]}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "file" in response.json()["details"]


@pytest.mark.django_db
def test_a_file_that_is_not_a_pdf_gets_415_and_nothing_is_stored(client_with_key) -> None:
    response = client_with_key.post(URL, {"file": pdf_file("x.pdf", b"hello, not a pdf")}, format="multipart")
    assert response.status_code == 415
    assert response.json() == {"error": "unsupported_media_type", "message": NOT_A_PDF}
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_a_file_over_max_upload_mb_gets_413(client_with_key, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    big = text_pdf_bytes(sample_pages(1)) + b"%" + b"x" * (1024 * 1024 + 10)
    response = client_with_key.post(URL, {"file": pdf_file("big.pdf", big)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large" and "1 MB" in response.json()["message"]
    assert not Document.objects.exists()


class _UnreadableBody(io.RawIOBase):
    def read(self, *args: object) -> bytes:
        raise AssertionError("the body was read")


@pytest.mark.django_db
def test_an_oversized_content_length_gets_413_before_the_body_is_read(issued_key, settings) -> None:
    settings.MAX_UPLOAD_MB = 1
    request = APIRequestFactory().post(URL, {"file": pdf_file()}, format="multipart", HTTP_X_API_KEY=issued_key.raw_key)
    request.META["CONTENT_LENGTH"] = str(5 * 1024 * 1024)
    request.META["wsgi.input"] = _UnreadableBody()
    request._stream = _UnreadableBody()  # type: ignore[assignment]
    response = DocumentListApi.as_view()(request)
    assert response.status_code == 413 and response.data["error"] == "payload_too_large"
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_uploading_needs_an_api_key() -> None:
    response = APIClient().post(URL, {"file": pdf_file()}, format="multipart")
    assert response.status_code == 401 and response.json()["error"] == "authentication_failed"


@pytest.mark.django_db
def test_the_list_holds_the_orgs_documents_only(client_with_key, org, other_org) -> None:
    ours = document_upload(org=org, filename="ours.pdf", data=text_pdf_bytes(["ours"]), enqueue=lambda _: None)
    document_upload(org=other_org, filename="theirs.pdf", data=text_pdf_bytes(["theirs"]), enqueue=lambda _: None)
    response = client_with_key.get(URL)
    assert response.status_code == 200
    assert [row["source_name"] for row in response.json()] == ["ours.pdf"]
    assert response.json()[0]["id"] == ours.document.pk


@pytest.mark.django_db
def test_one_document_shows_its_progress_and_another_orgs_or_unknown_id_is_404(client_with_key, org, other_org) -> None:
    ours = document_upload(org=org, filename="a.pdf", data=text_pdf_bytes(["a"]), enqueue=lambda _: None).document
    Document.objects.filter(pk=ours.pk).update(status="processing", pages_total=10, pages_done=4)
    theirs = document_upload(org=other_org, filename="b.pdf", data=text_pdf_bytes(["b"]), enqueue=lambda _: None)
    response = client_with_key.get(f"{URL}{ours.pk}/")
    assert response.status_code == 200
    assert response.json()["pages_done"] == 4 and response.json()["pages_total"] == 10
    assert response.json()["percent"] == 40
    for missing in (theirs.document.pk, 999999):
        response = client_with_key.get(f"{URL}{missing}/")
        assert response.status_code == 404 and response.json()["error"] == "document_not_found"


def test_the_openapi_schema_describes_the_multipart_upload_and_the_responses() -> None:
    schema = SchemaGenerator(patterns=[path("library/", include("library.urls"))]).get_schema(public=True)
    upload = schema["paths"]["/library/documents/"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][body]["properties"]
    assert fields["file"]["format"] == "binary" and fields["topic_names"]["type"] == "array"
    assert {"200", "202", "400", "401", "413"} <= set(upload["responses"])
    detail = schema["paths"]["/library/documents/{document_id}/"]["get"]
    assert {"200", "404"} <= set(detail["responses"])
    document = schema["components"]["schemas"]["DocumentOutput"]["properties"]
    assert {"pages_done", "pages_total", "eta_seconds", "queue_position", "status_line"} <= set(document)
