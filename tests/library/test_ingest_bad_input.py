"""Bad input ends in a clear state: `failed` with a readable error, no chunks, others untouched."""

import pytest

from core.errors import PayloadTooLarge, UnsupportedMediaType
from library.models import Chunk, Document
from library.services import document_upload
from tests.library.conftest import ingest
from tests.library.pdfs import (
    encrypted_pdf,
    image_only_pdf,
    sample_pages,
    text_pdf_bytes,
    zero_page_pdf,
)


def _assert_untouched(document: Document, chunks_before: list[tuple]) -> None:
    document.refresh_from_db()
    assert document.status == Document.Status.READY
    assert list(Chunk.objects.filter(document=document).values_list("pk", "text")) == chunks_before


def _chunks(document: Document) -> list[tuple]:
    return list(Chunk.objects.filter(document=document).values_list("pk", "text"))


def _assert_failed(document: Document, *phrases: str) -> None:
    assert document.status == Document.Status.FAILED
    for phrase in phrases:
        assert phrase in document.error.lower(), document.error
    assert not Chunk.objects.filter(document=document).exists()
    assert document.finished_at is not None


@pytest.mark.django_db
def test_a_file_that_is_not_a_pdf_is_refused_at_upload_and_stores_nothing(upload, queued, ready_document) -> None:
    before, queued_before = _chunks(ready_document), list(queued)
    with pytest.raises(UnsupportedMediaType):
        upload("notes.pdf", b"Just some text, not a PDF at all.\n" * 20)
    assert list(queued) == queued_before and Document.objects.count() == 1
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_truncated_pdf_ends_failed_as_damaged(upload, ready_document) -> None:
    before = _chunks(ready_document)
    whole = text_pdf_bytes(sample_pages(4, "truncated"))
    document = ingest(upload("cut.pdf", whole[: len(whole) // 2]))
    _assert_failed(document, "damaged or truncated")
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_corrupt_pdf_ends_failed_as_damaged(upload, ready_document) -> None:
    before = _chunks(ready_document)
    document = ingest(upload("corrupt.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"))
    _assert_failed(document, "damaged or truncated")
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_pdf_encrypted_with_a_password_ends_failed_asking_for_an_unprotected_copy(upload, ready_document) -> None:
    before = _chunks(ready_document)
    document = ingest(upload("locked.pdf", encrypted_pdf(user_password="s3cret")))
    _assert_failed(document, "password")
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_pdf_encrypted_with_an_empty_user_password_simply_ingests(upload) -> None:
    document = ingest(upload("permissions-only.pdf", encrypted_pdf(user_password="")))
    assert document.status == Document.Status.READY, document.error
    assert document.pages_total == document.pages_done == 2
    texts = list(Chunk.objects.filter(document=document).values_list("text", flat=True))
    assert any("VDDIO" in text for text in texts)


@pytest.mark.django_db
def test_image_only_pages_end_failed_with_no_extractable_text_when_ocr_is_off(upload, ready_document, settings) -> None:
    settings.OCR = False
    before = _chunks(ready_document)
    document = ingest(upload("scan.pdf", image_only_pdf(pages=3)))
    _assert_failed(document, "no extractable text", "ocr is off")
    assert document.pages_total == 3
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_image_pages_where_ocr_finds_no_text_end_failed_saying_so(upload, ready_document) -> None:
    before = _chunks(ready_document)
    document = ingest(upload("scan.pdf", image_only_pdf(pages=1)))  # a grey gradient, no letters
    _assert_failed(document, "no extractable text", "ocr found no text")
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_pdf_with_zero_pages_ends_failed(upload, ready_document) -> None:
    before = _chunks(ready_document)
    document = ingest(upload("empty.pdf", zero_page_pdf()))
    _assert_failed(document, "no pages")
    _assert_untouched(ready_document, before)


@pytest.mark.django_db
def test_a_file_over_max_upload_mb_is_refused_and_nothing_is_stored(org, settings, queued) -> None:
    settings.MAX_UPLOAD_MB = 1
    data = text_pdf_bytes(sample_pages(1)) + b"%" + b"x" * (1024 * 1024)
    with pytest.raises(PayloadTooLarge) as raised:
        document_upload(org=org, filename="huge.pdf", data=data, enqueue=queued)
    assert raised.value.http_status == 413 and "1 MB" in raised.value.message
    assert not Document.objects.exists() and not queued


@pytest.mark.django_db
def test_a_failed_new_version_keeps_the_previous_chunks_answering(upload, ready_document, settings) -> None:
    settings.OCR = False
    before = _chunks(ready_document)
    document = ingest(upload("good.pdf", image_only_pdf(pages=1)))
    assert document.pk == ready_document.pk and document.version == 2
    assert document.status == Document.Status.FAILED and "no extractable text" in document.error.lower()
    assert _chunks(document) == before
