"""Ingestion of scans: pages without a usable text layer are read by OCR (library/ingest.py,
library/parsing/page_reader.py). The scans are made in the tests from the real IRF540N
datasheet, its pages rendered at 200 dpi and wrapped into image-only and mixed PDFs."""

import pytest
from django.test import Client

from agent.services import answer
from library.models import Chunk, Document, PageUnits
from library.progress import document_progress
from library.selectors import quoted_units
from tests.conftest import DATASHEETS
from tests.library.conftest import ingest
from tests.library.pdfs import scanned_pdf

IRF540N = DATASHEETS / "infineon-irf540n.pdf"
# Page 1 holds the ratings and RDS(on); page 2 the electrical characteristics.
SCAN = [(IRF540N, 1), (IRF540N, 2)]

pytestmark = pytest.mark.django_db


def _pages_with_chunks(document: Document) -> set[int]:
    return set(Chunk.objects.filter(document=document).values_list("page", flat=True))


@pytest.mark.slow
def test_an_image_only_pdf_is_read_by_ocr_and_answers_from_its_pages(upload, owner) -> None:
    document = ingest(upload("irf540n-scan.pdf", scanned_pdf(SCAN, dpi=200)))
    assert document.status == Document.Status.READY, document.error
    assert document.ocr_pages == document.live_ocr_pages == [1, 2]
    assert document.page_problems == []
    assert _pages_with_chunks(document) == {1, 2}
    done = answer(
        org=document.org,
        query="What are the IRF540N's drain-source on-resistance and continuous drain current?",
        mode="FAST",
    )
    # RDS(on) is in page 2's table, the drain current in page 1's ratings: both are cited.
    assert {(s.source_name, s.page) for s in done.sources} == {("irf540n-scan.pdf", 1), ("irf540n-scan.pdf", 2)}
    assert "Drain-to-Source On-Resistance · Max.: 44 mΩ" in done.answer
    assert "Continuous Drain Current, Vgs @ 10V · Max.: 33 A" in done.answer
    # The library says which text OCR read.
    assert document_progress(document=document).status_line == "Ready: 2 pages (2 read by OCR)"
    client = Client()
    client.force_login(owner)
    library = client.get(f"/{document.org.name}/library").content.decode()
    assert "2 pages (2 read by OCR)" in library
    source = client.get(f"/{document.org.name}/library?source_name=irf540n-scan.pdf&source_page=1&source_type=text")
    assert 'id="ocr-note"' in source.content.decode()
    # OCR's words keep their boxes: the row the answer quotes from the scan is outlined on it.
    cited = next(page for page in done.sources if page.page == 2)
    quoted = quoted_units(org=document.org, cited=cited, answer=done.answer)
    rows = quoted.positions
    assert quoted.version == document.live_version == 1
    units = PageUnits.objects.get(document=document, page=2).units
    assert any("44 mΩ" in units[row]["text"] for row in rows)
    x0, top, x1, bottom = units[rows[0]]["box"]
    assert 0 <= x0 < x1 <= 1 and 0 <= top < bottom - 0.003 and bottom - top < 0.05
    page_2 = f"/{document.org.name}/library?source_name=irf540n-scan.pdf&source_page=2&source_type=text"
    marks = f"&rows={','.join(str(row) for row in rows)}"
    marked = client.get(f"{page_2}{marks}&rows_of={quoted.version}")
    assert marked.content.decode().count('class="row-mark"') == len(rows)
    # Positions of another version's units mark nothing: that version's rows are others.
    assert 'class="row-mark"' not in client.get(f"{page_2}{marks}&rows_of=2").content.decode()
    assert 'class="row-mark"' not in client.get(f"{page_2}{marks}").content.decode()


@pytest.mark.slow
def test_a_mixed_pdf_reads_its_text_page_as_it_is_and_its_image_page_by_ocr(upload) -> None:
    document = ingest(upload("irf540n-mixed.pdf", scanned_pdf(SCAN, dpi=200, keep_text=frozenset({1}))))
    assert document.status == Document.Status.READY, document.error
    assert document.ocr_pages == [1] and document.page_problems == []
    # Found before any page was read, for the time left; and what OCR took on its page.
    assert document.ocr_pages_expected == document.ocr_pages_tried == 1
    assert document.started_at is not None and document.finished_at is not None
    assert 0 < document.ocr_seconds < (document.finished_at - document.started_at).total_seconds()
    assert _pages_with_chunks(document) == {1, 2}
    page_1 = " ".join(Chunk.objects.filter(document=document, page=1).values_list("text", flat=True))
    assert "44mΩ" in page_1.replace(" ", "")


def test_with_ocr_off_an_image_only_pdf_fails_saying_so(upload, settings) -> None:
    settings.OCR = False
    document = ingest(upload("irf540n-scan.pdf", scanned_pdf(SCAN, dpi=200)))
    assert document.status == Document.Status.FAILED
    assert document.error.startswith("No extractable text:") and "OCR is off (OCR=off)" in document.error
    assert document.ocr_pages == []
    assert document.ocr_pages_expected == document.ocr_pages_tried == 0
    assert [problem["page"] for problem in document.page_problems] == [1, 2]
    assert not Chunk.objects.filter(document=document).exists()


def test_a_page_whose_ocr_times_out_is_reported_and_the_text_page_still_ingests(upload, settings) -> None:
    settings.OCR_PAGE_TIMEOUT_S = 0.001
    document = ingest(upload("irf540n-mixed.pdf", scanned_pdf(SCAN, dpi=200, keep_text=frozenset({1}))))
    assert document.status == Document.Status.READY, document.error
    assert document.ocr_pages == []
    assert document.page_problems == [{"page": 1, "problem": "OCR took longer than 0.001 s"}]
    # The page OCR gave up on is done with, as far as the time left goes: its time counts.
    assert document.ocr_pages_expected == document.ocr_pages_tried == 1 and document.ocr_seconds > 0
    assert _pages_with_chunks(document) == {2}
    progress = document_progress(document=document)
    assert progress.status_line == "Ready: 2 pages (1 page could not be read)"
    assert progress.page_problems == ("page 1: OCR took longer than 0.001 s",)


def test_image_pages_past_ocr_max_pages_are_reported(upload, settings) -> None:
    settings.OCR_MAX_PAGES = 0
    document = ingest(upload("irf540n-mixed.pdf", scanned_pdf(SCAN, dpi=200, keep_text=frozenset({1}))))
    assert document.status == Document.Status.READY, document.error
    assert document.page_problems == [
        {"page": 1, "problem": "no text layer, and OCR_MAX_PAGES (0) pages had OCR already"}
    ]
    assert document.ocr_pages_expected == document.ocr_pages_tried == 0
    assert _pages_with_chunks(document) == {2}


def test_when_ocr_cannot_read_any_page_the_failure_says_what_it_met(upload, settings) -> None:
    settings.OCR_PAGE_TIMEOUT_S = 0.001
    document = ingest(upload("irf540n-scan.pdf", scanned_pdf(SCAN[:1], dpi=200)))
    assert document.status == Document.Status.FAILED
    assert document.error == (
        "No extractable text: no page has a text layer, and OCR could not read them"
        " (page 1: OCR took longer than 0.001 s)."
    )
