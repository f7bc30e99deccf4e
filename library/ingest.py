"""The worker's pipeline: lock, parse, embed, atomic swap of the live version, recovery, heartbeats.

The Celery task calls `document_ingest`, which is idempotent: it only works on a document
that is queued, or left `processing` by a worker that died (nobody holds its ingest lock).
Pages are parsed by library.parsing, embedded by library.embeddings, and the new chunks
replace the old ones in one transaction. `documents_recover` and the heartbeat run from the
worker's life-cycle signals (library.signals).
"""

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from core import clock
from library.embeddings import embed_texts
from library.files import file_delete_on_commit
from library.models import Chunk, Document, IngestWorker, PageUnits
from library.parsing.chunking import ChunkDraft, chunk_page
from library.parsing.layout import PageLayout
from library.parsing.page_reader import OCR_OFF, OcrOptions, PageReader, PageText
from library.parsing.pages import unit_boxes
from library.parsing.pdf_text import PdfProblem, open_pdf, strip_running_headers
from library.parsing.pdfium_lock import pdfium_document
from library.parsing.profile import PROFILE_PAGES, document_profile

logger = logging.getLogger(__name__)

# Raised whenever parsing or chunking changes what a PDF's chunks are: a starting worker
# queues again every document an older pipeline made (its live version answers meanwhile).
# 2: layout units (table rows with their headers, paragraphs), profiles; 3: OCR; 4: units'
# boxes; 5: a title of only a vendor's name and a part number reads on to the next type size;
# 6: a row's unit column is written onto ranges ("–55 to 150 °C") and kept when no value takes it;
# 7: a rule through a cell's words is no column border; values side by side go under their columns;
# 8: tables open at their sides are closed, sections read row by row, MIN/TYP/MAX by position;
# 9: rows under a parameter cell merged down past a note mark ("(Note 2)") carry the parameter;
# 10: a sentence the page break cuts is finished by the next page's first sentence; 11: a short
# caption stays apart from the paragraph right under it; 12: chunks exact to their page again
# (10's finishing is done when a page is read for an answer: `library.search.text`); 13: a
# caption names one table, over or under it, and on the side the document captions its tables;
# a table running on over a page break without its header takes the header of its start;
# 14: a table whose first row holds a sentence has no header row (a register's bit descriptions);
# a short line joined by "at", "for" … is text, not figure ("120 °C at <5% rH for 2 h"); a header
# set over several lines, a cell spanning them, is one header (SHT3x Table 7, LM358's TYP/MAX);
# 15: a ratings list set without leaders joins each label to its value ("Input Voltage: 15V");
# pieces of a line the stream draws apart (a cross-reference's "Figure 8") are one line again;
# 16: on OCR'd pages, a pin name read as a number ("1034") takes the name the page writes inside
# a longer one ("GPIO34" → IO34).
# 17: on OCR'd pages, a value after "=" read with O is 0 ("ICHG = OA"), and a register name with
# a bit range ("RX_ADDR_P1[39:8]") names its family; a unit cell set twice ("μA μA") gives it once.
PIPELINE_VERSION = 17
INGEST_LOCK_CLASS = 0x566F  # "Vo": our namespace of advisory locks
# Running-header detection needs a few pages before chunks of the first ones can be embedded.
_SPECULATE_AFTER_PAGES = 8
# Seconds between progress writes, so an 8-page document does not write 8 times a second.
_PROGRESS_EVERY_S = 1.0


class _IngestLock:
    """A session-level advisory lock held while a worker ingests a document.

    PostgreSQL drops it when the worker's connection dies, so `documents_recover` can tell a
    document whose worker was killed from one that is still being worked on, on any machine.
    """

    def __init__(self, document_id: int) -> None:
        self.key = (INGEST_LOCK_CLASS, document_id % 2**31)
        self.acquired = False

    def __enter__(self) -> "_IngestLock":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key)
            self.acquired = bool(cursor.fetchone()[0])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.acquired:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
            except Exception:  # the connection is gone, and the lock with it
                logger.warning("could not release ingest lock %s", self.key)


def document_ingest(*, document_id: int) -> bool:
    """Turn a queued document into page-exact chunks with embeddings. Safe to run twice.

    Returns False when another worker is ingesting this document right now (perhaps an
    older version of it): the caller should try again later, since the document may be
    queued again by then. True when it is done, failed, or has nothing to do.
    """
    with _IngestLock(document_id) as lock:
        if not lock.acquired:
            logger.info("document %s is being ingested elsewhere", document_id)
            return False
        document = Document.objects.filter(pk=document_id).first()
        # `processing` here means its previous worker died: we hold the lock it would hold.
        if document is None or document.status not in (Document.Status.QUEUED, Document.Status.PROCESSING):
            return True
        sha256 = document.sha256
        now = clock.now()
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.PROCESSING,
            started_at=now,
            updated_at=now,
            pages_done=0,
            error="",
            ocr_pages=[],
            page_problems=[],
            ocr_pages_expected=0,
            ocr_pages_tried=0,
            ocr_seconds=0.0,
        )
        # One line per attempt and one per outcome: how many times a document was worked on,
        # and by which worker, is then answerable from the workers' logs alone.
        logger.info("ingest started: document %s version %s", document_id, document.version)
        try:
            with document.file.open("rb") as handle:
                data = handle.read()
            pipeline = _PagePipeline(document, open_pdf(data), data)
            drafts, embeddings = pipeline.run()
        except PdfProblem as problem:
            _fail(document_id, sha256, str(problem))
            return True
        except FileNotFoundError:
            _fail(document_id, sha256, "The stored file of this document is missing; upload it again.")
            return True
        except Exception as exc:
            logger.exception("ingestion of document %s failed", document_id)
            _fail(document_id, sha256, f"Ingestion failed unexpectedly ({type(exc).__name__}); try re-ingesting.")
            return True
        _replace_chunks(document, sha256, drafts, embeddings, pipeline)
        return True


class _PagePipeline:
    """Reads pages in a thread while the model embeds the pages already read.

    Running headers are found by looking at every page, so the final chunks are only known
    once the last page is read. Meanwhile chunks are embedded speculatively from the pages
    read so far (headers guessed from those pages); at the end the exact chunks are made from
    all pages and only those whose text the guess got wrong are embedded again. The chunks
    stored are exactly those of a sequential run; the model never waits for pypdf, which
    holds the GIL while torch releases it.
    """

    def __init__(self, document: Document, reader: object, data: bytes) -> None:
        self.document = document
        self.reader = reader
        self.data = data
        self.first_pages: dict[int, PageLayout] = {}  # page index → layout: the profile's source
        self.profile = Profile()
        self.page_count = len(reader.pages)  # type: ignore[attr-defined]
        self.batch_size = settings.EMBEDDING_BATCH_SIZE
        self.vectors: dict[str, np.ndarray] = {}  # embedding input → unit vector
        self.pending: dict[str, int] = {}  # embedding input → its tokens, not embedded yet
        self.tokens_done = 0  # tokens embedded, of the chunks made so far
        self.pages_read: list[str] = []
        self.ocr_pages: list[int] = []  # 1-based
        self.page_units: dict[int, list[dict[str, object]]] = {}  # page (1-based) → `unit_boxes`
        self.page_problems: list[dict[str, object]] = []
        self.ocr_tried = 0  # pages OCR has finished, read or not
        self.ocr_seconds = 0.0  # what they took
        self.chunked_through = 0  # pages [0, chunked_through) have chunks (guessed, then final)
        self.last_progress = 0.0
        self.progress_written = -1

    def run(self) -> tuple[list[ChunkDraft], np.ndarray]:
        with pdfium_document(self.data) as pdf:  # the page reader's, used by one thread at a time
            page_reader = PageReader(pdf, self.reader, ocr_options())  # type: ignore[arg-type]
            # Which pages OCR will read is known before any is read, so the time left counts
            # them apart from the start: an OCR page takes a hundred times a text page's time.
            Document.objects.filter(pk=self.document.pk).update(
                pages_total=self.page_count, ocr_pages_expected=len(page_reader.ocr_plan()), updated_at=clock.now()
            )
            pages = queue.SimpleQueue[tuple[int, PageText] | BaseException | None]()
            stop = threading.Event()
            reader_thread = threading.Thread(target=self._read_pages, args=(page_reader, pages, stop), daemon=True)
            reader_thread.start()
            try:
                self._speculate(pages)
            finally:
                stop.set()
            reader_thread.join()
            self._recaption(page_reader)

        Document.objects.filter(pk=self.document.pk).update(
            ocr_pages=self.ocr_pages, page_problems=self.page_problems, updated_at=clock.now()
        )
        final = strip_running_headers(self.pages_read)
        if not any(text.strip() for text in final):
            raise PdfProblem(no_text_message(self.page_problems))
        drafts = [draft for number, text in enumerate(final, start=1) for draft in chunk_page(number, text)]
        self.pending.clear()
        self.tokens_done = 0
        self.chunked_through = self.page_count
        for draft in drafts:
            self._add_pending(draft)
        while self.pending:
            self._embed_batch()
        self._write_progress(force=True)
        inputs = [embedding_input(self.document, draft.text) for draft in drafts]
        matrix = np.stack([self.vectors[text] for text in inputs]) if inputs else np.zeros((0, 384), np.float32)
        text = document_profile([self.first_pages[index] for index in sorted(self.first_pages)])
        self.profile = Profile(text=text, embedding=embed_texts([text])[0] if text else None)
        return drafts, matrix

    def _read_pages(
        self,
        pages: PageReader,
        out: "queue.SimpleQueue[tuple[int, PageText] | BaseException | None]",
        stop: threading.Event,
    ) -> None:
        try:
            for index, page in pages.read_in_order():
                if stop.is_set():
                    return
                if page.layout is not None and index < PROFILE_PAGES:
                    self.first_pages[index] = page.layout
                out.put((index, page))
            out.put(None)
        except BaseException as exc:  # handed to the embedding thread, which raises it
            out.put(exc)

    def _speculate(self, pages: "queue.SimpleQueue[tuple[int, PageText] | BaseException | None]") -> None:
        done = False
        while not done:
            # Block for more pages only when there is nothing to embed meanwhile: the model
            # runs as soon as there are chunks (waiting for two batches' worth left both
            # cores to the page reader for the first ~20 pages of every document).
            block = not self.pending
            items = []
            try:
                items.append(pages.get(block=block))
                while True:
                    items.append(pages.get_nowait())
            except queue.Empty:
                pass
            for item in items:
                if item is None:
                    done = True
                elif isinstance(item, BaseException):
                    raise item
                else:
                    self._page_read(*item)
            if done:
                return
            enough = len(self.pages_read) >= min(_SPECULATE_AFTER_PAGES, self.page_count)
            if enough and len(self.pages_read) > self.chunked_through:
                guess = strip_running_headers(self.pages_read)
                for index in range(self.chunked_through, len(self.pages_read)):
                    for draft in chunk_page(index + 1, guess[index]):
                        self._add_pending(draft)
                self.chunked_through = len(self.pages_read)
            if self.pending:
                self._embed_batch()

    def _recaption(self, pages: PageReader) -> None:
        """The pages read again because this document captions its tables below them (their
        chunks are embedded again at the end, as any page whose text the speculative chunks
        got wrong)."""
        for index, page in pages.read_again_if_captioned_below().items():
            self.pages_read[index] = page.text
            if page.layout is not None:
                self.page_units[index + 1] = unit_boxes(page.layout)
                if index in self.first_pages:
                    self.first_pages[index] = page.layout

    def _page_read(self, index: int, page: PageText) -> None:
        self.pages_read.append(page.text)
        if page.layout is not None:
            self.page_units[index + 1] = unit_boxes(page.layout)
        if page.ocr:
            self.ocr_pages.append(index + 1)
        if page.problem:
            self.page_problems.append({"page": index + 1, "problem": page.problem})
        if page.ocr_seconds is not None:
            # Written at once: the time left rests on OCR's pace, and an OCR page is rare enough
            # (10-25 s each) that a write per page costs nothing.
            self.ocr_tried += 1
            self.ocr_seconds += page.ocr_seconds
            Document.objects.filter(pk=self.document.pk).update(
                ocr_pages=list(self.ocr_pages),
                ocr_pages_tried=self.ocr_tried,
                ocr_seconds=self.ocr_seconds,
                updated_at=clock.now(),
            )

    def _add_pending(self, draft: ChunkDraft) -> None:
        text = embedding_input(self.document, draft.text)
        if text in self.vectors:
            self.tokens_done += draft.token_count
        else:
            self.pending[text] = draft.token_count

    def _embed_batch(self) -> None:
        # The longest texts first, as SentenceTransformer.encode orders them itself, so a
        # batch is padded to a length its members share, as it is when the model is given
        # every text at once.
        batch = sorted(self.pending, key=lambda text: -self.pending[text])[: self.batch_size]
        vectors = embed_texts(batch, batch_size=self.batch_size)
        for text, vector in zip(batch, vectors, strict=True):
            self.vectors[text] = vector
            self.tokens_done += self.pending.pop(text)
        self._write_progress()

    def _write_progress(self, *, force: bool = False) -> None:
        """Pages' worth of work done: the share of the chunked pages' tokens embedded.

        Chunks are embedded longest first, not page by page, so this counts work rather
        than whole pages; it is what the time-left estimate needs.
        """
        known = self.tokens_done + sum(self.pending.values())
        share = self.tokens_done / known if known else 0.0
        done = min(self.page_count, int(self.chunked_through * share))
        if force and not self.pending and self.chunked_through == self.page_count:
            done = self.page_count
        moment = time.monotonic()
        if done <= self.progress_written or (not force and moment - self.last_progress < _PROGRESS_EVERY_S):
            return
        Document.objects.filter(pk=self.document.pk).update(pages_done=done, updated_at=clock.now())
        self.progress_written, self.last_progress = done, moment


def ocr_options() -> OcrOptions:
    return OcrOptions(
        enabled=settings.OCR,
        max_pages=settings.OCR_MAX_PAGES,
        timeout_s=settings.OCR_PAGE_TIMEOUT_S,
        dpi=settings.OCR_DPI,
    )


def no_text_message(problems: list[dict[str, object]]) -> str:
    """Why a PDF of which no page yields text failed: OCR off, or what OCR met on its pages."""
    if not problems or all(problem["problem"] == OCR_OFF for problem in problems):
        return "No extractable text: the pages are images without a text layer (scanned?), and OCR is off (OCR=off)."
    shown = "; ".join(f"page {problem['page']}: {problem['problem']}" for problem in problems[:3])
    more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    return f"No extractable text: no page has a text layer, and OCR could not read them ({shown}{more})."


def embedding_input(document: Document, text: str) -> str:
    """What the model embeds for a chunk: the document's name first, so the part is known."""
    name = PurePath(document.source_name).stem.replace("_", " ").replace("-", " ")
    return f"{name}: {text}"


@dataclass(frozen=True)
class Profile:
    """What the document is, in its own words (library.parsing.profile), and its embedding."""

    text: str = ""
    embedding: np.ndarray | None = None


def _replace_chunks(
    document: Document,
    sha256: str,
    drafts: list[ChunkDraft],
    embeddings: np.ndarray,
    pipeline: "_PagePipeline",
) -> None:
    """Make this version live in one transaction: queries see the old chunks or the new ones,
    and the library serves the old version's pages and file until then."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None or current.sha256 != sha256:
            # Deleted, or a newer version arrived meanwhile: its own task will ingest it.
            logger.info("ingest superseded: document %s version %s", document.pk, document.version)
            return
        Chunk.objects.filter(document_id=document.pk).delete()
        Chunk.objects.bulk_create(
            [
                Chunk(
                    document_id=document.pk,
                    org_id=document.org_id,
                    page=draft.page,
                    ordinal=ordinal,
                    text=draft.text,
                    token_count=draft.token_count,
                    embedding=vector,
                )
                for ordinal, (draft, vector) in enumerate(zip(drafts, embeddings.tolist(), strict=True))
            ],
            batch_size=500,
        )
        _replace_page_units(document.pk, pipeline.page_units)
        now = clock.now()
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.READY,
            pages_done=current.pages_total or 0,
            finished_at=now,
            updated_at=now,
            error="",
            live_version=current.version,
            live_file=current.file.name,
            live_sha256=current.sha256,
            live_pages_total=current.pages_total,
            live_ocr_pages=pipeline.ocr_pages,
            pipeline_version=PIPELINE_VERSION,
            profile=pipeline.profile.text,
            profile_embedding=pipeline.profile.embedding,
        )
        if current.live_file.name != current.file.name:
            file_delete_on_commit(current.live_file)
    logger.info(
        "ingest finished: document %s version %s, %s chunks on %s pages",
        document.pk,
        current.version,
        len(drafts),
        current.pages_total,
    )


def _replace_page_units(document_id: int, page_units: dict[int, list[dict[str, object]]]) -> None:
    PageUnits.objects.filter(document_id=document_id).delete()
    PageUnits.objects.bulk_create(
        [PageUnits(document_id=document_id, page=page, units=units) for page, units in page_units.items()],
        batch_size=200,
    )


def _fail(document_id: int, sha256: str, message: str) -> None:
    # Only the version that failed: a newer upload meanwhile stays queued for its own run.
    now = clock.now()
    Document.objects.filter(pk=document_id, sha256=sha256).update(
        status=Document.Status.FAILED, error=message, finished_at=now, updated_at=now
    )
    logger.info("ingest failed: document %s: %s", document_id, message)


def documents_recover(*, enqueue: Callable[[int], None], stale_queued_after: timedelta | None = None) -> list[int]:
    """Queue again every document whose worker died mid-way, and queued ones whose message is lost.

    When a worker starts (`stale_queued_after=None`) every queued document is queued again:
    the embedded filesystem broker forgets a message once a worker has taken it, so after a
    SIGKILL nothing else would finish the document. Run periodically with
    `stale_queued_after`, queued documents are queued again only if they have waited that
    long while no worker is ingesting anything, i.e. their message is surely gone.
    Queuing a document twice is harmless; `document_ingest` skips one that is done.
    """
    recovered: list[int] = []
    for document_id in Document.objects.filter(status=Document.Status.PROCESSING).values_list("pk", flat=True):
        with _IngestLock(document_id) as lock:
            if not lock.acquired:
                continue  # a live worker holds it
            # Zero rows: its worker finished (or failed) it between the listing and the lock.
            interrupted = Document.objects.filter(pk=document_id, status=Document.Status.PROCESSING).update(
                status=Document.Status.QUEUED, pages_done=0, updated_at=clock.now()
            )
        if not interrupted:
            continue
        logger.warning("document %s was left processing by a worker that stopped; queued again", document_id)
        recovered.append(document_id)
    queued = Document.objects.filter(status=Document.Status.QUEUED).order_by("queued_at", "pk")
    if stale_queued_after is not None:
        if _ingest_locks_held():
            queued = queued.none()
        else:
            queued = queued.filter(queued_at__lt=clock.now() - stale_queued_after)
    recovered.extend(pk for pk in queued.values_list("pk", flat=True) if pk not in recovered)
    for document_id in recovered:
        enqueue(document_id)
    return recovered


def documents_queue_outdated() -> list[int]:
    """Queue every ready document whose chunks an older pipeline made; each stays live (its
    chunks answer) until the new ones replace them. A starting worker calls this, then
    `documents_recover`, which sends what is queued to the workers."""
    outdated = Document.objects.filter(
        status=Document.Status.READY, pipeline_version__lt=PIPELINE_VERSION, sha256=F("live_sha256")
    )
    ids = list(outdated.values_list("pk", flat=True))
    Document.objects.filter(pk__in=ids, status=Document.Status.READY).update(
        status=Document.Status.QUEUED, pages_done=0, queued_at=clock.now(), updated_at=clock.now()
    )
    if ids:
        logger.info("queued again for ingestion pipeline %s: documents %s", PIPELINE_VERSION, ids)
    return ids


def _ingest_locks_held() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted",
            [INGEST_LOCK_CLASS],
        )
        return int(cursor.fetchone()[0])


def ingest_worker_heartbeat(*, name: str, started_at: datetime | None = None) -> IngestWorker:
    """Record that the worker `name` is alive now (and when it started, on its first beat)."""
    now = clock.now()
    defaults: dict[str, object] = {"last_seen_at": now, "pid": os.getpid()}
    worker, created = IngestWorker.objects.update_or_create(
        name=name, defaults=defaults, create_defaults={**defaults, "started_at": started_at or now}
    )
    if started_at is not None and not created:
        IngestWorker.objects.filter(pk=worker.pk).update(started_at=started_at)
    return worker


def ingest_worker_stopped(*, name: str) -> None:
    """A worker shutting down cleanly says so, so no one waits for it."""
    IngestWorker.objects.filter(name=name).delete()


def ingest_lock_held(*, document_id: int) -> bool:
    """Whether some worker, on any machine, is ingesting this document right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
            " AND objsubid = 2 AND granted",
            [INGEST_LOCK_CLASS, document_id % 2**31],
        )
        return cursor.fetchone() is not None
