"""pdfium is not thread-safe, not even across documents: every use of it takes turns.

A worker reads pages on a thread of its own while request threads render page images, and
two unguarded calls at once can crash the whole process. Each check holds the lock in the
test's thread and asserts that the project's own pdfium work, started on another thread,
waits for it and then completes.
"""

import threading
import time
from collections.abc import Callable, Iterator

import pypdfium2
import pytest

from library.page_images import page_image_file, page_images_delete, pdf_page_count
from library.parsing.ocr import text_layer_usable
from library.parsing.page_reader import OcrOptions, PageReader
from library.parsing.pages import page_layout
from library.parsing.pdf_text import open_pdf
from library.parsing.pdfium_lock import PDFIUM, pdfium_document
from tests.conftest import DATASHEETS

DATA = (DATASHEETS / "ti-ads1115.pdf").read_bytes()


def waits_for_the_lock(work: Callable[[], object]) -> None:
    """`work` run on another thread while this one holds the lock, for three times as long
    as the same work takes alone, does not finish until the lock is released."""
    began = time.monotonic()
    work()
    alone = time.monotonic() - began
    started, finished = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        started.set()
        try:
            work()
        except BaseException as exc:  # reported in the test's thread
            failures.append(exc)
        finally:
            finished.set()

    with PDFIUM:
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        assert started.wait(10)
        assert not finished.wait(max(0.5, 3 * alone)), "pdfium was used while another thread held the lock"
    assert finished.wait(60)
    thread.join()
    assert not failures, failures


@pytest.fixture
def pdf() -> Iterator[pypdfium2.PdfDocument]:
    with pdfium_document(DATA) as opened:
        yield opened


def test_opening_a_pdf_takes_turns() -> None:
    def open_and_count() -> int:
        with pdfium_document(DATA) as opened:
            return len(opened)

    waits_for_the_lock(open_and_count)


def test_laying_out_a_page_takes_turns(pdf) -> None:
    waits_for_the_lock(lambda: page_layout(pdf, 12))


def test_reading_a_page_for_ingestion_takes_turns(pdf) -> None:
    reader = PageReader(pdf, open_pdf(DATA), OcrOptions(enabled=False))
    waits_for_the_lock(lambda: reader.read(12))


def test_the_text_layer_check_takes_turns(pdf) -> None:
    with PDFIUM:
        page = pdf[0]
    waits_for_the_lock(lambda: text_layer_usable(page))
    with PDFIUM:
        page.close()


@pytest.mark.django_db
def test_page_images_take_turns(upload) -> None:
    document = upload("ti-ads1115.pdf", DATA)  # queued: its pages are counted in the PDF itself
    assert document.served_pages_total is None
    waits_for_the_lock(lambda: pdf_page_count(document))
    page_images_delete(org_id=document.org_id, document_id=document.pk)  # an earlier run's
    uncached = iter([3, 4])  # a page's image is rendered once, then read from its file
    waits_for_the_lock(lambda: page_image_file(document, next(uncached)))
