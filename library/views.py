"""Library web pages: the org's documents, a cited page, its image and its PDF.

Every page is behind a login and the org's membership (orgs.access). Documents are always
looked up in the database by org, never by building a path from a URL parameter.
"""

import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from library.forms import UploadForm
from library.links import library_path, source_path
from library.models import Document
from library.page_images import page_image_file, pdf_page_count
from library.progress import document_progress, ingest_worker_last_seen
from library.search.terms import STOPWORDS
from library.selectors import document_get, document_named, documents_for_org, page_shown, unit_boxes_of
from library.services import document_delete, document_reingest, document_upload
from orgs.access import OrgAccess, not_found_page, org_page, org_path, page_context, require_admin
from topics.selectors import topic_list

logger = logging.getLogger(__name__)


@require_GET
@org_page
def library_page(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    """`/{org}/library`: the index, or with `source_name` & `source_page` the cited page."""
    if "source_name" in request.GET or "source_page" in request.GET:
        return _source_page(request, access)
    return _library_index(request, access)


@require_GET
@org_page
def library_progress(request: HttpRequest, access: OrgAccess) -> JsonResponse:
    """The ingestion status of every document, polled by the library page while work is queued."""
    worker_last_seen = ingest_worker_last_seen()
    rows = [_progress(document, worker_last_seen) for document in documents_for_org(org=access.org)]
    response = JsonResponse({"documents": rows, "active": sum(1 for row in rows if row["active"])})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@org_page
def library_upload(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    require_admin(access)
    form = UploadForm(request.POST, request.FILES, org=access.org)
    if not form.is_valid():
        return _library_index(request, access, form=form, status=form.refusal_status())
    _upload(request, access, form)
    return redirect(library_path(access.org), permanent=False)


@require_http_methods(["GET", "POST"])
@org_page
def document_confirm(request: HttpRequest, access: OrgAccess, document_id: int, action: str) -> HttpResponse:
    """Re-ingest or delete a document: GET asks for confirmation, POST does it."""
    require_admin(access)
    document = document_get(org=access.org, document_id=document_id)
    library_url = library_path(access.org)
    if document is None:
        return not_found_page(request, access, "This document is not in the library.", library_url, "Library")
    if request.method == "POST":
        _reingest_or_delete(request, document, action)
        return redirect(library_url)
    context = page_context(access, "library", document=document, action=action, library_url=library_url)
    return render(request, "library/confirm.html", context)


@require_GET
@org_page
def document_pdf(request: HttpRequest, access: OrgAccess, document_id: int) -> FileResponse:
    """The uploaded PDF, inline, so `…/file.pdf#page=N` opens the browser's viewer at that page."""
    document = _served_document(access, document_id)
    try:
        handle = document.served_file.open("rb")
    except OSError:
        raise Http404("The file of this document is missing.") from None
    response = FileResponse(handle, content_type="application/pdf", as_attachment=False, filename=document.source_name)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@org_page
def page_image(request: HttpRequest, access: OrgAccess, document_id: int, page: int) -> FileResponse:
    document = _served_document(access, document_id)
    try:
        path = page_image_file(document, page)
    except Exception:  # a broken or missing PDF has no image; its status says why
        logger.warning("cannot render page %s of document %s", page, document.pk, exc_info=True)
        raise Http404("This page cannot be rendered.") from None
    if path is None:
        raise Http404("No such page.")
    response = FileResponse(open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _served_document(access: OrgAccess, document_id: int) -> Document:
    """The org's document with a file to serve, or 404."""
    document = document_get(org=access.org, document_id=document_id)
    if document is None or not document.served_file:
        raise Http404("No such document.")
    return document


# --- the library index -------------------------------------------------------------------


@dataclass
class TopicGroup:
    name: str
    description: str
    anchor: str
    documents: list[Document] = field(default_factory=list)


_ACTIVE = (Document.Status.QUEUED, Document.Status.PROCESSING)


def _progress(document: Document, worker_last_seen: datetime | None) -> dict[str, Any]:
    """What the page shows about a document's ingestion; the JSON poll sends the same."""
    progress = document_progress(document=document, worker_last_seen=worker_last_seen)
    line = progress.status_line
    if progress.status == Document.Status.READY and progress.pages_total:
        line = f"{progress.pages_total} pages" + (f" ({progress.ocr_note})" if progress.ocr_note else "")
    elif progress.status == Document.Status.FAILED and progress.error:
        line = " ".join(filter(None, [progress.error, progress.live_note]))  # the badge says it failed
    return {
        "id": document.pk,
        "status": progress.status,
        "status_label": document.get_status_display(),
        "pages_done": progress.pages_done,
        "pages_total": progress.pages_total,
        "percent": progress.percent,
        "eta_seconds": progress.eta_seconds,
        "queue_position": progress.queue_position,
        "line": line,
        "error": progress.error,
        "page_problems": list(progress.page_problems),
        "active": progress.status in _ACTIVE,
    }


def _library_groups(access: OrgAccess) -> tuple[list[TopicGroup], list[Document]]:
    documents = list(documents_for_org(org=access.org))
    worker_last_seen = ingest_worker_last_seen()
    groups = [
        TopicGroup(name=topic.name, description=topic.description, anchor=f"topic-{topic.pk}")
        for topic in topic_list(org=access.org)
    ]
    by_name = {group.name: group for group in groups}
    loose = TopicGroup(name="Without a topic", description="", anchor="topic-none")
    for document in documents:
        document.progress = _progress(document, worker_last_seen)  # type: ignore[attr-defined]
        document.page_one_url = source_path(access.org, document.source_name, 1)  # type: ignore[attr-defined]
        names = [topic.name for topic in document.topics.all()]
        for name in names:
            by_name[name].documents.append(document)
        if not names:
            loose.documents.append(document)
    if loose.documents:
        groups.append(loose)
    return groups, documents


def _library_index(
    request: HttpRequest, access: OrgAccess, form: UploadForm | None = None, status: int = 200
) -> HttpResponse:
    groups, documents = _library_groups(access)
    form = form or UploadForm(org=access.org)
    context = page_context(
        access,
        "library",
        groups=groups,
        document_count=len(documents),
        any_active=any(document.status in _ACTIVE for document in documents),
        form=form,
        progress_url=library_path(access.org, "progress"),
        upload_url=library_path(access.org, "upload"),
    )
    return render(request, "library/index.html", context, status=status)


def _upload(request: HttpRequest, access: OrgAccess, form: UploadForm) -> None:
    """Store each file of a valid upload form, saying what became of it."""
    topics = [form.cleaned_data["topic"]] if form.cleaned_data["topic"] else []
    for upload in form.cleaned_data["files"]:
        try:
            result = document_upload(
                org=access.org, filename=upload.name, data=upload.read(), topics=topics, uploaded_by=access.user
            )
        except ApplicationError as error:
            messages.error(request, f"{upload.name}: {error.message}")
            continue
        name = result.document.source_name
        if not result.created and not result.queued:
            messages.warning(request, f"{name} is already in the library (same file); nothing to do.")
        elif result.created:
            messages.success(request, f"{name} uploaded and queued for ingestion.")
        else:
            messages.success(request, f"{name}: new version {result.document.version} queued for ingestion.")


def _reingest_or_delete(request: HttpRequest, document: Document, action: str) -> None:
    name = document.source_name
    if action == "delete":
        document_delete(document=document)
        messages.success(request, f"{name} was deleted with its pages and passages.")
    else:
        document_reingest(document=document)
        messages.success(request, f"{name} is queued to be ingested again.")


# --- one cited page ------------------------------------------------------------------------


@dataclass
class TextBlock:
    lines: list[list[tuple[str, bool]]]  # each line as (text, is a term of the question) pieces
    cited: bool
    anchor: str = ""


def _source_page(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    library_url = library_path(access.org)
    source_name = request.GET.get("source_name", "")
    raw_page = request.GET.get("source_page", "1")
    document = document_named(org=access.org, source_name=source_name)
    if document is None:
        reason = f"There is no document named “{source_name}” in the {access.org.name} library."
        return not_found_page(request, access, reason, library_url, "Browse the library")
    page_count = pdf_page_count(document)
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0
    if not 1 <= page <= page_count:
        reason = f"{document.source_name} has no page “{raw_page}”; it has {page_count} pages."
        back = source_path(access.org, document.source_name, 1)
        return not_found_page(request, access, reason, back, f"Open page 1 of {document.source_name}")
    if request.GET.get("source_type", "text") != "text":
        reason = "Only text sources can be shown (source_type=text)."
        return not_found_page(request, access, reason, library_url, "Browse the library")
    context = _source_context(request, access, document, page, page_count)
    return render(request, "library/source.html", context)


_CITE_PARAM = re.compile(r"^\d{1,18}(,\d{1,18}){0,63}$")
_ROWS_PARAM = re.compile(r"^\d{1,5}(,\d{1,5}){0,15}$")


@dataclass(frozen=True)
class RowMark:
    """A quoted row outlined on the page's image, placed in percent of the image."""

    left: float
    top: float
    width: float
    height: float


def _row_marks(document: Document, page: int, raw_rows: str) -> list[RowMark]:
    positions = [int(part) for part in raw_rows.split(",")] if _ROWS_PARAM.match(raw_rows) else []
    marks = []
    for x0, top, x1, bottom in unit_boxes_of(document=document, page=page, positions=positions):
        pad = 0.004  # a hair around the glyphs' boxes, so the outline does not cut them
        left, upper = max(0.0, x0 - pad), max(0.0, top - pad)
        marks.append(
            RowMark(
                left=round(100 * left, 2),
                top=round(100 * upper, 2),
                width=round(100 * (min(1.0, x1 + pad) - left), 2),
                height=round(100 * (min(1.0, bottom + pad) - upper), 2),
            )
        )
    return marks


def _source_context(
    request: HttpRequest, access: OrgAccess, document: Document, page: int, page_count: int
) -> dict[str, Any]:
    """What the cited page shows: its text with the cited chunks and the question's words marked,
    its neighbours, its image and PDF, and the way back to the thread it was cited in."""
    params = request.GET
    raw_cite = params.get("cite", "")
    chunk_ids = {int(part) for part in raw_cite.split(",")} if _CITE_PARAM.match(raw_cite) else set()
    lines, owners = page_shown(document=document, page=page)
    question = params.get("q", "")[:300]
    cited = {index for index, ids in enumerate(owners) if ids & chunk_ids}
    blocks = _blocks(lines, cited, _terms_pattern(question))
    keep = {key: params[key] for key in ("from",) if _is_uuid(params.get(key, ""))}
    if question:
        keep["q"] = question
    documents = ("documents", str(document.pk))
    return page_context(
        access,
        "library",
        document=document,
        page=page,
        page_count=page_count,
        blocks=blocks,
        cited_count=sum(1 for block in blocks if block.cited),
        row_marks=_row_marks(document, page, params.get("rows", ""))
        if params.get("rows_of") == str(document.live_version)
        else [],
        topics=list(document.topics.all()),
        topic_anchor_url=library_path(access.org),
        prev_url=source_path(access.org, document.source_name, page - 1, **keep) if page > 1 else "",
        next_url=source_path(access.org, document.source_name, page + 1, **keep) if page < page_count else "",
        image_url=library_path(access.org, *documents, "pages", f"{page}.png"),
        pdf_url=library_path(access.org, *documents, "file.pdf") + f"#page={page}",
        jump_url=library_path(access.org),
        thread_url=org_path(access.org, "chat", keep["from"]) if "from" in keep else "",
        from_chat=keep.get("from", ""),
        question=question,
        read_by_ocr=page in (document.live_ocr_pages or []),
    )


_TERM = re.compile(r"[\w.+-]*\w", re.UNICODE)


def _terms_pattern(question: str) -> re.Pattern[str] | None:
    """The question's words worth marking on the page ("I2C", "address", "BME280"), as one regex:
    the words search looks for too (library.search.terms.STOPWORDS are left out)."""
    words = {word for word in _TERM.findall(question[:300]) if word.lower() not in STOPWORDS}
    words = {word for word in words if len(word) >= 2 or word.isdigit()}
    if not words:
        return None
    ordered = sorted(words, key=len, reverse=True)[:16]
    return re.compile(r"(?<!\w)(" + "|".join(re.escape(word) for word in ordered) + r")(?!\w)", re.IGNORECASE)


def _pieces(line: str, terms: re.Pattern[str] | None) -> list[tuple[str, bool]]:
    if terms is None:
        return [(line, False)]
    pieces: list[tuple[str, bool]] = []
    start = 0
    for match in terms.finditer(line):
        if match.start() > start:
            pieces.append((line[start : match.start()], False))
        pieces.append((match.group(0), True))
        start = match.end()
    if start < len(line) or not pieces:
        pieces.append((line[start:], False))
    return pieces


def _blocks(lines: list[str], cited: set[int], terms: re.Pattern[str] | None = None) -> list[TextBlock]:
    blocks: list[TextBlock] = []
    for index, line in enumerate(lines):
        is_cited = index in cited
        if not blocks or blocks[-1].cited != is_cited:
            anchor = f"cited-{sum(1 for block in blocks if block.cited) + 1}" if is_cited else ""
            blocks.append(TextBlock(lines=[], cited=is_cited, anchor=anchor))
        blocks[-1].lines.append(_pieces(line, terms))
    return blocks


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
