"""Where a document's ingestion stands: pages done, place in the queue, time left, in words.

The library API, the library page, the admin and `manage.py ingest --wait` all report
progress through `document_progress`, so they say the same thing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q

from core import clock
from library.ingest import ingest_lock_held
from library.models import Document, IngestWorker

# A worker beats every 30 s; after three missed beats it counts as gone.
WORKER_SILENT_AFTER = timedelta(seconds=90)
# A page with a text layer before any is done: ingestion measured 9.3 pages/s, then 10.2 after
# the parsing speed-up (README, Benchmarks); rounded up. Only the first moments of a document
# with OCR pages use it.
TEXT_PAGE_ESTIMATE_S = 0.11


@dataclass(frozen=True)
class DocumentProgress:
    """Where a document's ingestion stands, with one line a person can read."""

    status: str
    pages_done: int
    pages_total: int | None
    percent: int
    eta_seconds: int | None  # processing only: text and OCR pages left, each at its own observed pace
    queue_position: int | None  # queued only: documents ahead of this one (all organizations)
    worker_running: bool
    status_line: str
    error: str
    live_version: int | None  # the version that answers; it may be older than the one above
    live_pages_total: int | None
    live_note: str  # e.g. "Version 1 (54 pages) stays live."; empty when the newest is live or none is
    ocr_note: str = ""  # e.g. "2 read by OCR, 1 page could not be read"; empty when every page had text
    page_problems: tuple[str, ...] = ()  # e.g. "page 3: OCR took longer than 60 s", one per page not read


def ingest_worker_last_seen() -> datetime | None:
    """When any ingestion worker last sent its heartbeat (None: never)."""
    return IngestWorker.objects.aggregate(last=Max("last_seen_at"))["last"]


def document_ingest_interrupted(*, document: Document) -> bool:
    """A `processing` document whose worker is gone: nobody holds its ingest lock."""
    return not ingest_lock_held(document_id=document.pk)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"


def _ahead(count: int) -> str:
    if count == 0:
        return "next in line"
    return f"{count} document{'s' if count != 1 else ''} ahead of this one"


@dataclass(frozen=True)
class _Moment:
    """What every line of one report is measured against."""

    now: datetime
    worker_last_seen: datetime | None
    worker_running: bool


def document_progress(*, document: Document, worker_last_seen: datetime | bool | None = False) -> DocumentProgress:
    """Progress of one document's ingestion: pages, time left, place in the queue, and why it waits.

    Pass `worker_last_seen` (from `ingest_worker_last_seen`) when reporting on many documents.
    """
    now = clock.now()
    last_seen = ingest_worker_last_seen() if worker_last_seen is False else worker_last_seen
    worker_running = last_seen is not None and now - last_seen <= WORKER_SILENT_AFTER  # type: ignore[operator]
    moment = _Moment(now=now, worker_last_seen=last_seen, worker_running=worker_running)  # type: ignore[arg-type]
    total = document.pages_total
    done = min(document.pages_done, total) if total else 0
    eta: int | None = None
    position: int | None = None
    status = document.status
    if status == Document.Status.READY:
        done = total or 0
        line = f"Ready: {total} pages" if total else "Ready"
    elif status == Document.Status.FAILED:
        line = f"Failed: {document.error or 'unknown error'}"
    elif status == Document.Status.QUEUED:
        position = _queue_position(document)
        line = _queued_line(position, moment)
    else:
        line, eta = _processing_line(document, done, moment)
    ocr_note = _ocr_note(document)
    # While OCR pages are being read the line counts them itself ("OCR: 1 of 4 pages read").
    shown_note = _ocr_note(document, read=False) if _ocr_counted_in_line(document) else ocr_note
    if shown_note and status in (Document.Status.READY, Document.Status.PROCESSING):
        line = f"{line} ({shown_note})"
    live_note = _live_note(document)
    if live_note:
        line = f"{line}. {live_note}"
    return DocumentProgress(
        status=status,
        pages_done=done,
        pages_total=total,
        percent=round(100 * done / total) if total else (100 if status == Document.Status.READY else 0),
        eta_seconds=eta,
        queue_position=position,
        worker_running=worker_running,
        status_line=line,
        error=document.error,
        live_version=document.live_version,
        live_pages_total=document.live_pages_total,
        live_note=live_note,
        ocr_note=ocr_note,
        page_problems=tuple(f"page {p['page']}: {p['problem']}" for p in document.page_problems or []),
    )


def _ocr_note(document: Document, *, read: bool = True) -> str:
    """How many pages OCR read, apart: each takes 10–25 s here against a tenth of a second for
    a page with a text layer, so they explain a slow document. And how many could not be read."""
    parts = []
    if read and document.ocr_pages:
        parts.append(f"{len(document.ocr_pages)} read by OCR")
    if document.page_problems:
        count = len(document.page_problems)
        parts.append(f"{count} page{'s' if count != 1 else ''} could not be read")
    return ", ".join(parts)


def _queue_position(document: Document) -> int:
    """Documents ahead of a queued one, in every organization: queued earlier, or being ingested."""
    earlier = Q(queued_at__lt=document.queued_at) | Q(queued_at=document.queued_at, pk__lt=document.pk)
    return (
        Document.objects.filter(status=Document.Status.QUEUED).filter(earlier).count()
        + Document.objects.filter(status=Document.Status.PROCESSING).count()
    )


def _queued_line(position: int, moment: _Moment) -> str:
    if moment.worker_running:
        return f"Queued: {_ahead(position)}"
    if moment.worker_last_seen is None:
        return (
            "Queued, but no ingestion worker has been seen: start one with `celery -A voltai_server worker`"
            f" ({_ahead(position)})"
        )
    ago = _duration((moment.now - moment.worker_last_seen).total_seconds())
    return f"No ingestion worker has been seen for {ago}; queued, {_ahead(position)}"


def _ocr_counted_in_line(document: Document) -> bool:
    return document.status == Document.Status.PROCESSING and document.ocr_pages_expected > 0


def _processing_line(document: Document, done: int, moment: _Moment) -> tuple[str, int | None]:
    """The line of a `processing` document, and the seconds it has left when they can be told."""
    total = document.pages_total
    if document_ingest_interrupted(document=document):
        return "Interrupted: the worker ingesting it stopped; it starts again when a worker runs", None
    ocr = _ocr_part(document)
    if not total or document.started_at is None or not (done or ocr):
        return (f"Processing: reading {total} pages" if total else "Processing: opening the PDF"), None
    if done >= total:
        return f"Processing: saving {total} pages", 0
    eta = _seconds_left(document, done, moment)
    return f"Processing page {done + 1} of {total}{ocr}, about {_duration(eta)} left", eta


def _ocr_part(document: Document) -> str:
    if not document.ocr_pages_expected:
        return ""
    return f" (OCR: {document.ocr_pages_tried} of {document.ocr_pages_expected} pages read)"


def _seconds_left(document: Document, done: int, moment: _Moment) -> int:
    """Pages left at their own pace: OCR pages at OCR's observed seconds per page (a default from
    the benchmark until one is done), the rest at the pace of the work other than OCR.

    `pages_done` counts pages' worth of embedding, OCR pages included once embedded; so of the
    pages left, those OCR has still to read cost OCR's time, the others the other pace.
    """
    assert document.pages_total is not None and document.started_at is not None
    ocr_left = max(document.ocr_pages_expected - document.ocr_pages_tried, 0)
    if document.ocr_pages_tried:
        ocr_rate = document.ocr_seconds / document.ocr_pages_tried
    else:
        ocr_rate = settings.OCR_ESTIMATE_PAGE_S
    elapsed = max((document.updated_at - document.started_at).total_seconds(), 0.001)
    other_rate = max(elapsed - document.ocr_seconds, 0.0) / done if done else TEXT_PAGE_ESTIMATE_S
    other_left = max(document.pages_total - done - ocr_left, 0)
    since_update = max((moment.now - document.updated_at).total_seconds(), 0.0)
    return max(0, round(ocr_left * ocr_rate + other_left * other_rate - since_update))


def _live_note(document: Document) -> str:
    """What still answers while the newest upload is not ready: the live version, if any."""
    if not document.is_live or document.status == Document.Status.READY:
        return ""
    live = f"Version {document.live_version} ({document.live_pages_total} pages)"
    if document.status == Document.Status.FAILED:
        return f"{live} stays live."
    if document.version == document.live_version:
        return f"{live} answers meanwhile."
    return f"{live} stays live until version {document.version} is ready."
