"""Writes for the library: uploads, ingestion, re-ingestion and deletion.

Every way in (admin, library page, `manage.py ingest`, the API) calls `document_upload`;
the Celery task calls `document_ingest`, which is idempotent: it only works on a document
that is queued, or left `processing` by a worker that died.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection, transaction

from core import clock
from core.errors import InvalidRequest, PayloadTooLarge
from library.chunking import ChunkDraft, chunk_page
from library.embeddings import embed_texts
from library.models import Chunk, Document
from library.pdf_text import PdfProblem, extract_page_text, normalise_text, open_pdf, strip_running_headers
from orgs.models import Organization
from topics.models import Topic

logger = logging.getLogger(__name__)

# Chunks embedded per progress step; several model batches, so the model stays busy.
_EMBED_GROUP = 128
_ADVISORY_LOCK_CLASS = 0x566F  # "Vo": our namespace of advisory locks


@dataclass(frozen=True)
class UploadResult:
    document: Document
    created: bool  # False: the same bytes were already in the library
    queued: bool  # True: ingestion work was queued


def clean_source_name(filename: str) -> str:
    """The file name shown in citations: the last path part, without control characters."""
    name = PurePath(filename.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name or name in {".", ".."}:
        raise InvalidRequest("The file needs a name.", details={"file": ["The file name is empty."]})
    return name[:255]


def document_upload(
    *,
    org: Organization,
    filename: str,
    data: bytes,
    topics: Iterable[Topic] = (),
    uploaded_by: object | None = None,
    enqueue: Callable[[int], None] | None = None,
) -> UploadResult:
    """Store a PDF and queue its ingestion, or return the document that already has these bytes.

    A new file under an existing source_name becomes a new version of that document: its old
    chunks keep answering questions until the new ones replace them in one transaction.
    """
    if len(data) > settings.MAX_UPLOAD_MB * 1024 * 1024:
        raise PayloadTooLarge(f"The file is larger than the {settings.MAX_UPLOAD_MB} MB this server accepts.")
    source_name = clean_source_name(filename)
    sha256 = hashlib.sha256(data).hexdigest()
    topics = list(topics)
    now = clock.now()
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=org.pk)  # serialise uploads per org
        existing = Document.objects.filter(org=org, sha256=sha256).first()
        if existing is not None:
            if topics:
                existing.topics.add(*topics)
            return UploadResult(document=existing, created=False, queued=False)
        document = Document.objects.filter(org=org, source_name=source_name).first()
        created = document is None
        if document is None:
            document = Document(org=org, source_name=source_name)
        else:
            document.version += 1
        document.sha256 = sha256
        document.size_bytes = len(data)
        document.uploaded_by = uploaded_by if getattr(uploaded_by, "pk", None) else None  # type: ignore[assignment]
        document.status = Document.Status.QUEUED
        document.pages_done = 0
        document.pages_total = None
        document.error = ""
        document.queued_at = now
        document.started_at = document.finished_at = None
        document.file.save(source_name, ContentFile(data), save=False)
        document.save()
        if topics:
            document.topics.add(*topics)
        _enqueue_on_commit(document.pk, enqueue)
    return UploadResult(document=document, created=created, queued=True)


def _enqueue_on_commit(document_id: int, enqueue: Callable[[int], None] | None) -> None:
    if enqueue is None:
        from library.tasks import enqueue_ingest

        enqueue = enqueue_ingest
    transaction.on_commit(lambda: enqueue(document_id))


def document_reingest(*, document: Document, enqueue: Callable[[int], None] | None = None) -> Document:
    """Queue a document to be ingested again from its stored file."""
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.QUEUED, pages_done=0, error="", queued_at=clock.now(), finished_at=None
        )
        _enqueue_on_commit(document.pk, enqueue)
    document.refresh_from_db()
    return document


def document_delete(*, document: Document) -> None:
    """Delete a document, its chunks and its stored file."""
    storage, name = document.file.storage, document.file.name
    with transaction.atomic():
        document.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


# --- ingestion ----------------------------------------------------------------------------


class _IngestLock:
    """A session-level advisory lock held while a worker ingests a document.

    PostgreSQL drops it when the worker's connection dies, so `documents_recover` can tell a
    document whose worker was killed from one that is still being worked on, on any machine.
    """

    def __init__(self, document_id: int) -> None:
        self.key = (_ADVISORY_LOCK_CLASS, document_id % 2**31)
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


def document_ingest(*, document_id: int) -> None:
    """Turn a queued document into page-exact chunks with embeddings. Safe to run twice."""
    with _IngestLock(document_id) as lock:
        if not lock.acquired:
            logger.info("document %s is being ingested elsewhere", document_id)
            return
        document = Document.objects.filter(pk=document_id).first()
        # `processing` here means its previous worker died: we hold the lock it would hold.
        if document is None or document.status not in (Document.Status.QUEUED, Document.Status.PROCESSING):
            return
        sha256 = document.sha256
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.PROCESSING, started_at=clock.now(), pages_done=0, error=""
        )
        try:
            drafts = _chunk_document(document)
            embeddings = _embed_with_progress(document, drafts)
        except PdfProblem as problem:
            _fail(document_id, str(problem))
            return
        except Exception as exc:
            logger.exception("ingestion of document %s failed", document_id)
            _fail(document_id, f"Ingestion failed unexpectedly ({type(exc).__name__}); try re-ingesting.")
            return
        _replace_chunks(document, sha256, drafts, embeddings)


def _chunk_document(document: Document) -> list[ChunkDraft]:
    with document.file.open("rb") as handle:
        reader = open_pdf(handle.read())
    page_count = len(reader.pages)
    Document.objects.filter(pk=document.pk).update(pages_total=page_count)
    pages = strip_running_headers([normalise_text(extract_page_text(reader, i)) for i in range(page_count)])
    if not any(text.strip() for text in pages):
        raise PdfProblem(
            "No extractable text: the pages are images without a text layer (scanned?). OCR is not supported."
        )
    return [draft for number, text in enumerate(pages, start=1) for draft in chunk_page(number, text)]


def embedding_input(document: Document, text: str) -> str:
    """What the model embeds for a chunk: the document's name first, so the part is known."""
    title = PurePath(document.source_name).stem.replace("_", " ").replace("-", " ")
    return f"{title}: {text}"


def _embed_with_progress(document: Document, drafts: list[ChunkDraft]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for start in range(0, len(drafts), _EMBED_GROUP):
        group = drafts[start : start + _EMBED_GROUP]
        vectors.extend(embed_texts([embedding_input(document, d.text) for d in group]).tolist())
        # Pages before the next group's first page are finished.
        next_page = drafts[start + _EMBED_GROUP].page - 1 if start + _EMBED_GROUP < len(drafts) else None
        done = next_page if next_page is not None else (document.pages_total or group[-1].page)
        Document.objects.filter(pk=document.pk).update(pages_done=done)
    return vectors


def _replace_chunks(document: Document, sha256: str, drafts: list[ChunkDraft], embeddings: list[list[float]]) -> None:
    """Swap the document's chunks in one transaction: queries see the old set or the new one."""
    with transaction.atomic():
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None or current.sha256 != sha256:
            return  # deleted, or a newer version arrived meanwhile: its own task will ingest it
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
                for ordinal, (draft, vector) in enumerate(zip(drafts, embeddings, strict=True))
            ],
            batch_size=500,
        )
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.READY,
            pages_done=current.pages_total or 0,
            finished_at=clock.now(),
            error="",
        )


def _fail(document_id: int, message: str) -> None:
    Document.objects.filter(pk=document_id).update(
        status=Document.Status.FAILED, error=message, finished_at=clock.now()
    )


def documents_recover(*, enqueue: Callable[[int], None] | None = None) -> list[int]:
    """Queue again every document whose worker died mid-way, and every queued one.

    Run when a worker starts: with a broker that forgets a message once delivered (the
    embedded filesystem broker), this is what finishes a document after a SIGKILL. Queuing a
    document twice is harmless; `document_ingest` skips one that is already done.
    """
    if enqueue is None:
        from library.tasks import enqueue_ingest

        enqueue = enqueue_ingest
    recovered: list[int] = []
    for document_id in Document.objects.filter(status=Document.Status.PROCESSING).values_list("pk", flat=True):
        with _IngestLock(document_id) as lock:
            if not lock.acquired:
                continue  # a live worker holds it
            Document.objects.filter(pk=document_id, status=Document.Status.PROCESSING).update(
                status=Document.Status.QUEUED, pages_done=0
            )
        recovered.append(document_id)
    queued = Document.objects.filter(status=Document.Status.QUEUED).order_by("queued_at")
    recovered.extend(pk for pk in queued.values_list("pk", flat=True) if pk not in recovered)
    for document_id in recovered:
        enqueue(document_id)
    return recovered
