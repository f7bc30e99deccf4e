"""Writes for the library, the web side of documents: upload, re-ingest, delete.

Every way in (admin, library page, `manage.py ingest`, the API) calls `document_upload`,
which stores the PDF and queues its ingestion once the transaction commits; the worker's
side is library.ingest.
"""

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q

from core import clock
from core.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from library.files import file_delete_on_commit, file_delete_unless_live
from library.models import Document
from library.page_images import page_images_delete
from library.parsing.pdf_text import looks_like_pdf
from library.tasks import enqueue_ingest
from orgs.models import Organization
from topics.models import Topic


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


# The upload contract, the same on every way in (API, library page, admin, `ingest`).
EMPTY_FILE = "The file is empty."
NOT_A_PDF = "The file is not a PDF; only PDF datasheets can be uploaded."


# The library page takes several files in one request; every other way in takes one.
MAX_FILES_PER_UPLOAD = 50


def upload_size_limit(*, files: int = 1, envelope_bytes: int = 0) -> int:
    """The most bytes an upload of `files` PDFs may hold: MAX_UPLOAD_MB each, plus room for
    the multipart envelope around them when a request body is measured."""
    return files * settings.MAX_UPLOAD_MB * 1024 * 1024 + envelope_bytes


def upload_too_large(size_bytes: int, *, files: int = 1, envelope_bytes: int = 0) -> bool:
    """The one size check of uploads, on a file or on a request body's declared length."""
    return size_bytes > upload_size_limit(files=files, envelope_bytes=envelope_bytes)


def upload_check(*, size: int, head: bytes) -> None:
    """Refuse what no way in may store: too large (413), empty (400), not a PDF (415).

    `head` is the file's first KiB. Callers check before storing anything.
    """
    if upload_too_large(size):
        raise PayloadTooLarge.file_too_large()
    if size == 0:
        raise InvalidRequest(EMPTY_FILE, details={"file": [EMPTY_FILE]})
    if not looks_like_pdf(head):
        raise UnsupportedMediaType(NOT_A_PDF)


def document_upload(
    *,
    org: Organization,
    filename: str,
    data: bytes,
    topics: Iterable[Topic] = (),
    uploaded_by: User | None = None,
    enqueue: Callable[[int], None] | None = None,
) -> UploadResult:
    """Store a PDF and queue its ingestion, or return the document that already has these bytes.

    A new file under an existing source_name becomes a new version of that document; the
    version that is live keeps answering, and keeps its pages and file, until the new one is
    ready. Uploading the live version's bytes again drops a newer version that is not live.
    """
    upload_check(size=len(data), head=data[:1024])
    source_name = clean_source_name(filename)
    sha256 = hashlib.sha256(data).hexdigest()
    topics = list(topics)
    with transaction.atomic():
        Organization.objects.select_for_update().get(pk=org.pk)  # serialise uploads per org
        existing = Document.objects.filter(Q(sha256=sha256) | Q(live_sha256=sha256), org=org).first()
        if existing is not None:
            if topics:
                existing.topics.add(*topics)
            if existing.sha256 != sha256:
                _restore_live_version(existing)
            return UploadResult(document=existing, created=False, queued=False)
        document = Document.objects.filter(org=org, source_name=source_name).first()
        created = document is None
        if document is None:
            document = Document(org=org, source_name=source_name)
        else:
            file_delete_unless_live(document, document.file)
            document.version += 1
        document.sha256 = sha256
        document.size_bytes = len(data)
        document.uploaded_by = uploaded_by
        document.status = Document.Status.QUEUED
        document.pages_done = 0
        document.pages_total = None
        document.error = ""
        document.queued_at = clock.now()
        document.started_at = None
        document.finished_at = None
        document.file.save(source_name, ContentFile(data), save=False)
        document.save()
        if topics:
            document.topics.add(*topics)
        _enqueue_on_commit(document.pk, enqueue)
    return UploadResult(document=document, created=created, queued=True)


def _restore_live_version(document: Document) -> None:
    """Make the live version the newest again, dropping a newer upload that never went live."""
    file_delete_unless_live(document, document.file)
    now = clock.now()
    document.file = document.live_file
    document.sha256 = document.live_sha256
    document.size_bytes = document.live_file.size if document.live_file else 0
    document.version = document.live_version or document.version
    document.status = Document.Status.READY
    document.pages_total = document.pages_done = document.live_pages_total or 0
    document.error = ""
    document.finished_at = now
    document.save()


def _enqueue_on_commit(document_id: int, enqueue: Callable[[int], None] | None) -> None:
    enqueue = enqueue or enqueue_ingest
    transaction.on_commit(lambda: enqueue(document_id))


def document_reingest(*, document: Document, enqueue: Callable[[int], None] | None = None) -> Document:
    """Queue a document to be ingested again from its stored file.

    Its current chunks keep answering until the new ones replace them.
    """
    with transaction.atomic():
        Document.objects.filter(pk=document.pk).update(
            status=Document.Status.QUEUED,
            pages_done=0,
            error="",
            queued_at=clock.now(),
            started_at=None,
            finished_at=None,
            updated_at=clock.now(),
        )
        _enqueue_on_commit(document.pk, enqueue)
    document.refresh_from_db()
    return document


def document_delete(*, document: Document) -> None:
    """Delete a document, its chunks, its stored files (the live version's and a newer one's)
    and its cached page images."""
    files = {f.name: f for f in (document.file, document.live_file) if f.name}
    org_id, document_id = document.org_id, document.pk
    with transaction.atomic():
        document.delete()
        for file in files.values():
            file_delete_on_commit(file)
    page_images_delete(org_id=org_id, document_id=document_id)
