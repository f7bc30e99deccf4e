"""document_ingest: exact chunks despite the pipelined reading, idempotence, atomic versions, recovery."""

import threading
import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from core import clock
from library.embeddings import embed_texts
from library.ingest import _IngestLock, document_ingest, documents_recover, embedding_input
from library.models import Chunk, Document, PageUnits
from library.search import CitedPage
from library.selectors import quoted_units
from library.services import document_upload
from tests.conftest import DATASHEETS
from tests.library.conftest import ingest
from tests.library.pdfs import sample_pages, text_pdf_bytes
from tests.library.sequential import sequential_chunks


def stored(document: Document) -> list[tuple[int, str]]:
    return list(Chunk.objects.filter(document=document).order_by("ordinal").values_list("page", "text"))


@pytest.mark.django_db
def test_chunks_match_a_sequential_run_even_when_the_early_header_guess_is_wrong(upload) -> None:
    # "Preliminary ..." is on the first 8 of 30 pages: a running header to the early guess,
    # ordinary text in the end. "MCX900 datasheet" is on every page: a real running header.
    # Blank lines set them apart from the body, as a page's layout does.
    preliminary = "Preliminary information subject to change\n\n"
    pages = [
        f"MCX900 datasheet rev 2\n\n{preliminary if n <= 8 else ''}{text}"
        for n, text in enumerate(sample_pages(30), start=1)
    ]
    data = text_pdf_bytes(pages)
    document = ingest(upload("mcx900.pdf", data))
    assert document.status == Document.Status.READY and document.pages_done == 30
    chunks = stored(document)
    assert chunks == sequential_chunks(data)
    assert "Preliminary information" in chunks[0][1] and not any("MCX900 datasheet rev" in t for _, t in chunks)
    rows = Chunk.objects.filter(document=document).order_by("ordinal").values_list("embedding", flat=True)
    vectors = np.array([list(v) for v in rows])
    expected = embed_texts([embedding_input(document, text) for _, text in chunks])
    assert np.allclose(vectors, expected, atol=1e-4)


@pytest.mark.django_db
def test_ingesting_twice_leaves_one_set_of_chunks(upload) -> None:
    document = ingest(upload("a.pdf", text_pdf_bytes(sample_pages(3))))
    first = list(Chunk.objects.filter(document=document).values_list("pk", flat=True))
    document_ingest(document_id=document.pk)  # a redelivered message: the document is done
    assert list(Chunk.objects.filter(document=document).values_list("pk", flat=True)) == first


@pytest.mark.django_db
def test_the_same_bytes_again_return_the_existing_document_with_no_new_work(
    upload, queued, org, django_capture_on_commit_callbacks
) -> None:
    data = text_pdf_bytes(sample_pages(2))
    document = ingest(upload("a.pdf", data))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = document_upload(org=org, filename="other-name.pdf", data=data, enqueue=queued)
    assert result.document.pk == document.pk and not result.created and not result.queued
    assert callbacks == [] and queued == []
    assert Document.objects.get(pk=document.pk).status == Document.Status.READY


@pytest.mark.django_db(transaction=True)
def test_a_new_version_replaces_the_old_chunks_atomically(upload) -> None:
    old = ingest(upload("part.pdf", text_pdf_bytes(sample_pages(3, "old version"))))
    old_chunks = stored(old)
    new_data = (DATASHEETS / "renesas-icl7660.pdf").read_bytes()
    new_chunks = sequential_chunks(new_data)
    document = upload("part.pdf", new_data)
    assert document.pk == old.pk and document.version == 2 and document.status == Document.Status.QUEUED

    def work() -> None:
        try:
            document_ingest(document_id=document.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    seen_mid_way = 0
    while worker.is_alive():
        chunks = stored(document)
        current = Document.objects.get(pk=document.pk)  # read after: still processing means mid-way
        if current.status == Document.Status.PROCESSING:
            # Mid-way, queries see the old version whole, never a mix.
            assert chunks == old_chunks
            seen_mid_way += current.pages_done > 0
        else:
            assert chunks in (old_chunks, new_chunks)
        time.sleep(0.05)
    worker.join()
    assert seen_mid_way > 0
    document.refresh_from_db()
    assert document.status == Document.Status.READY and document.pages_total == 11
    assert stored(document) == new_chunks
    assert not Chunk.objects.filter(text__contains="old version").exists()


@pytest.mark.django_db(transaction=True)
def test_recovery_requeues_a_dead_workers_document_but_not_a_live_ones(upload, queued) -> None:
    dead, live = upload("dead.pdf", text_pdf_bytes(["dead"])), upload("live.pdf", text_pdf_bytes(["live"]))
    Document.objects.filter(pk__in=[dead.pk, live.pk]).update(status="processing", pages_done=2)
    holding, release = threading.Event(), threading.Event()

    def live_worker() -> None:  # another connection holds the lock, as a live worker does
        with _IngestLock(live.pk) as lock:
            assert lock.acquired
            holding.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=live_worker)
    thread.start()
    holding.wait(10)
    try:
        recovered = documents_recover(enqueue=queued)
    finally:
        release.set()
        thread.join()
    assert recovered == [dead.pk]
    assert Document.objects.get(pk=dead.pk).status == Document.Status.QUEUED
    assert Document.objects.get(pk=live.pk).status == Document.Status.PROCESSING


@pytest.mark.django_db
def test_recovery_leaves_alone_a_document_its_worker_finished_after_the_sweep_listed_it(
    upload, queued, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = upload("done.pdf", text_pdf_bytes(["done"]))
    Document.objects.filter(pk=document.pk).update(status="processing", pages_done=1)

    class FinishedMeanwhile(_IngestLock):
        def __enter__(self) -> _IngestLock:  # the worker swaps its chunks in and lets go first
            Document.objects.filter(pk=document.pk).update(status="ready")
            return super().__enter__()

    monkeypatch.setattr("library.ingest._IngestLock", FinishedMeanwhile)
    assert documents_recover(enqueue=queued) == []
    assert Document.objects.get(pk=document.pk).status == Document.Status.READY


@pytest.mark.django_db
def test_the_periodic_sweep_requeues_only_documents_queued_long_ago(upload) -> None:
    fresh = upload("fresh.pdf", text_pdf_bytes(["fresh"]))
    stale = upload("stale.pdf", text_pdf_bytes(["stale"]))
    Document.objects.filter(pk=stale.pk).update(queued_at=clock.now() - timedelta(minutes=5))
    sent: list[int] = []
    assert documents_recover(enqueue=sent.append, stale_queued_after=timedelta(minutes=2)) == [stale.pk]
    # At a worker's start every queued document is sent again, oldest first.
    assert documents_recover(enqueue=sent.append) == [stale.pk, fresh.pk]
    assert sent == [stale.pk, stale.pk, fresh.pk]


@pytest.mark.django_db(transaction=True)
def test_a_document_another_worker_holds_is_left_for_later_not_dropped(upload) -> None:
    document = upload("a.pdf", text_pdf_bytes(["a"]))
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        with _IngestLock(document.pk):
            holding.set()
            release.wait(30)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    holding.wait(10)
    try:
        assert document_ingest(document_id=document.pk) is False  # the task retries later
    finally:
        release.set()
        thread.join()
    assert Document.objects.get(pk=document.pk).status == Document.Status.QUEUED
    assert document_ingest(document_id=document.pk) is True
    assert Document.objects.get(pk=document.pk).status == Document.Status.READY


@pytest.mark.django_db
def test_each_page_keeps_where_its_indexed_lines_stand_and_a_new_version_replaces_them(upload, org) -> None:
    data = (DATASHEETS / "infineon-irf540n.pdf").read_bytes()
    document = ingest(upload("irf540n.pdf", data))
    records = {record.page: record.units for record in PageUnits.objects.filter(document=document)}
    assert sorted(records) == list(range(1, 9))
    indexed: dict[int, list[str]] = {}
    for page, text in stored(document):
        indexed.setdefault(page, []).extend(text.split("\n"))
    row = next(unit for unit in records[2] if "Static Drain-to-Source On-Resistance" in unit["text"])
    assert "44" in row["text"]  # the row with its value, as the chunks index it
    x0, top, x1, bottom = row["box"]
    assert 0 <= x0 < x1 <= 1 and 0 <= top < bottom <= 1 and bottom - top < 0.05  # one row, not a block
    assert any(row["text"] in line for line in indexed[2])

    quoted = quoted_units(
        org=org, cited=CitedPage(document.pk, "irf540n.pdf", 2), answer=f"On-resistance: {row['text']}."
    )
    assert [records[2][index]["text"] for index in quoted.positions] == [row["text"]]
    assert quoted.version == 1

    ingest(upload("irf540n.pdf", text_pdf_bytes(sample_pages(2, "second version"))))
    assert sorted(PageUnits.objects.filter(document=document).values_list("page", flat=True)) == [1, 2]
