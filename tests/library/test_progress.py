"""document_progress: pages, time left, place in the queue, and why a document waits."""

from datetime import timedelta

import pytest

from core import clock
from library.ingest import _IngestLock, ingest_worker_heartbeat, ingest_worker_stopped
from library.models import Document
from library.progress import DocumentProgress, document_progress
from library.services import document_upload
from tests.library.pdfs import text_pdf_bytes


def _queue(org, *names: str) -> list[Document]:
    documents = []
    for name in names:
        documents.append(
            document_upload(org=org, filename=name, data=text_pdf_bytes([name]), enqueue=lambda _: None).document
        )
    return documents


@pytest.mark.django_db
def test_a_queued_document_says_how_many_are_ahead_of_it_across_organizations(org, other_org) -> None:
    ingest_worker_heartbeat(name="celery@box")
    first, second = _queue(org, "a.pdf", "b.pdf")
    _queue(other_org, "c.pdf")
    (last,) = _queue(org, "d.pdf")
    assert document_progress(document=first).status_line == "Queued: next in line"
    assert document_progress(document=second).status_line == "Queued: 1 document ahead of this one"
    progress = document_progress(document=last)
    assert progress.queue_position == 3 and progress.status_line == "Queued: 3 documents ahead of this one"
    assert progress.worker_running and progress.eta_seconds is None


@pytest.mark.django_db
def test_a_document_being_processed_counts_as_ahead(org) -> None:
    ingest_worker_heartbeat(name="celery@box")
    busy, waiting = _queue(org, "a.pdf", "b.pdf")
    Document.objects.filter(pk=busy.pk).update(status="processing")
    assert busy.queued_at is not None
    Document.objects.filter(pk=waiting.pk).update(queued_at=busy.queued_at - timedelta(seconds=5))
    waiting.refresh_from_db()
    assert document_progress(document=waiting).status_line == "Queued: 1 document ahead of this one"


@pytest.mark.django_db
def test_a_queued_document_says_when_no_worker_has_been_seen(org) -> None:
    (document,) = _queue(org, "a.pdf")
    line = document_progress(document=document).status_line
    assert "no ingestion worker has been seen" in line and "celery -A voltai_server worker" in line

    ingest_worker_heartbeat(name="celery@box")
    assert document_progress(document=document).status_line == "Queued: next in line"
    clock.advance(180)
    progress = document_progress(document=document)
    assert not progress.worker_running
    assert progress.status_line == "No ingestion worker has been seen for 3 minutes; queued, next in line"


@pytest.mark.django_db
def test_a_worker_that_stops_cleanly_is_not_counted_as_running(org) -> None:
    (document,) = _queue(org, "a.pdf")
    ingest_worker_heartbeat(name="celery@box")
    ingest_worker_stopped(name="celery@box")
    assert not document_progress(document=document).worker_running


@pytest.mark.django_db
def test_a_document_in_progress_reports_its_page_and_the_time_left_from_its_pace(org) -> None:
    ingest_worker_heartbeat(name="celery@box")
    (document,) = _queue(org, "a.pdf")
    now = clock.now()
    # 44 of 88 pages in 20 s: 44 more pages take about 20 s more.
    Document.objects.filter(pk=document.pk).update(
        status="processing", pages_total=88, pages_done=44, started_at=now - timedelta(seconds=20), updated_at=now
    )
    document.refresh_from_db()
    progress = _progress_while_ingesting(document)
    assert progress.pages_done == 44 and progress.percent == 50
    assert progress.eta_seconds == 20
    assert progress.status_line == "Processing page 45 of 88, about 20 s left"


@pytest.mark.django_db
def test_a_processing_document_whose_worker_died_says_it_was_interrupted(org) -> None:
    (document,) = _queue(org, "a.pdf")
    Document.objects.filter(pk=document.pk).update(status="processing", pages_total=10, pages_done=3)
    document.refresh_from_db()
    assert document_progress(document=document).status_line.startswith("Interrupted")


@pytest.mark.django_db
def test_finished_documents_say_ready_or_why_they_failed(org) -> None:
    ready, failed = _queue(org, "a.pdf", "b.pdf")
    Document.objects.filter(pk=ready.pk).update(status="ready", pages_total=12, pages_done=12)
    Document.objects.filter(pk=failed.pk).update(status="failed", error="This PDF has no pages.")
    ready.refresh_from_db()
    failed.refresh_from_db()
    assert document_progress(document=ready).status_line == "Ready: 12 pages"
    assert document_progress(document=ready).percent == 100
    assert document_progress(document=failed).status_line == "Failed: This PDF has no pages."


def _progress_while_ingesting(document: Document) -> DocumentProgress:
    """The document's progress while this test holds its ingest lock, as a live worker does."""
    with _IngestLock(document.pk) as lock:
        assert lock.acquired
        return document_progress(document=document)


def _processing(document: Document, **fields: object) -> Document:
    Document.objects.filter(pk=document.pk).update(status="processing", **fields)
    document.refresh_from_db()
    return document


@pytest.mark.django_db
def test_a_mixed_document_counts_its_ocr_pages_apart_at_their_own_pace(org) -> None:
    ingest_worker_heartbeat(name="celery@box")
    (document,) = _queue(org, "a.pdf")
    now = clock.now()
    # 12 pages, 4 of them for OCR. In 22 s: one OCR page took 20 s, and 2 pages' worth of
    # embedding was done in the other 2 s. Left: 3 OCR pages at 20 s, and 12 - 2 - 3 = 7
    # pages at 1 s. The pace of all pages alike (22 s for 2) would say 110 s.
    document = _processing(
        document,
        pages_total=12,
        pages_done=2,
        started_at=now - timedelta(seconds=22),
        updated_at=now,
        ocr_pages=[1],
        ocr_pages_expected=4,
        ocr_pages_tried=1,
        ocr_seconds=20.0,
    )
    progress = _progress_while_ingesting(document)
    assert progress.eta_seconds == 67
    assert progress.status_line == "Processing page 3 of 12 (OCR: 1 of 4 pages read), about 67 s left"
    assert progress.pages_done == 2 and progress.percent == 17
    assert progress.ocr_note == "1 read by OCR"


@pytest.mark.django_db
def test_before_its_first_ocr_page_is_read_a_document_counts_the_default_ocr_pace(org, settings) -> None:
    settings.OCR_ESTIMATE_PAGE_S = 10.0
    ingest_worker_heartbeat(name="celery@box")
    (document,) = _queue(org, "a.pdf")
    now = clock.now()
    document = _processing(
        document,
        pages_total=12,
        pages_done=0,
        started_at=now - timedelta(seconds=3),
        updated_at=now,
        ocr_pages_expected=4,
    )
    progress = _progress_while_ingesting(document)
    # 4 OCR pages at 10 s, and 8 text pages at the measured 0.11 s each.
    assert progress.eta_seconds == 41
    assert progress.status_line == "Processing page 1 of 12 (OCR: 0 of 4 pages read), about 41 s left"


@pytest.mark.django_db
def test_while_reading_ocr_pages_the_pages_not_read_are_still_said(org) -> None:
    ingest_worker_heartbeat(name="celery@box")
    (document,) = _queue(org, "a.pdf")
    now = clock.now()
    document = _processing(
        document,
        pages_total=4,
        pages_done=1,
        started_at=now - timedelta(seconds=31),
        updated_at=now - timedelta(seconds=5),
        ocr_pages=[1],
        page_problems=[{"page": 2, "problem": "OCR took longer than 60 s"}],
        ocr_pages_expected=3,
        ocr_pages_tried=2,
        ocr_seconds=24.0,
    )
    progress = _progress_while_ingesting(document)
    # 1 OCR page left at 12 s, 2 pages at 2 s, minus the 5 s since the worker last wrote.
    assert progress.eta_seconds == 11
    assert progress.status_line == (
        "Processing page 2 of 4 (OCR: 2 of 3 pages read), about 11 s left (1 page could not be read)"
    )
