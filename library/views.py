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
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from library.forms import UploadForm
from library.models import Chunk, Document
from library.page_images import page_image_file, pdf_page_count
from library.parsing.pdf_text import PdfProblem, extract_page_text, normalise_text, open_pdf
from library.progress import document_progress, ingest_worker_last_seen
from library.selectors import document_get, documents_for_org
from library.services import document_delete, document_reingest, document_upload
from orgs.access import OrgAccess, not_found_page, org_page, org_path, page_context, require_admin
from orgs.models import Organization
from topics.selectors import topic_list

logger = logging.getLogger(__name__)

# --- links ---------------------------------------------------------------------------------


def source_url(org: Organization, source_name: str, page: int, **extra: str) -> str:
    """The library page of one cited page, as the API's source `url` names it (relative)."""
    query = {"source_name": source_name, "source_page": str(page), "source_type": "text", **extra}
    return org_path(org, "library") + "?" + urlencode(query)


def _document_or_none(access: OrgAccess, document_id: int) -> Document | None:
    return document_get(org=access.org, document_id=document_id)


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
        line = f"{progress.pages_total} pages"
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
        document.page_one_url = source_url(access.org, document.source_name, 1)  # type: ignore[attr-defined]
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
        progress_url=org_path(access.org, "library", "progress"),
        upload_url=org_path(access.org, "library", "upload"),
    )
    return render(request, "library/index.html", context, status=status)


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
    return redirect(org_path(access.org, "library"), permanent=False)


@require_http_methods(["GET", "POST"])
@org_page
def document_confirm(request: HttpRequest, access: OrgAccess, document_id: int, action: str) -> HttpResponse:
    """Re-ingest or delete a document: GET asks for confirmation, POST does it."""
    require_admin(access)
    document = _document_or_none(access, document_id)
    library_url = org_path(access.org, "library")
    if document is None:
        return not_found_page(request, access, "This document is not in the library.", library_url, "Library")
    if request.method == "POST":
        name = document.source_name
        if action == "delete":
            document_delete(document=document)
            messages.success(request, f"{name} was deleted with its pages and passages.")
        else:
            document_reingest(document=document)
            messages.success(request, f"{name} is queued to be ingested again.")
        return redirect(library_url)
    context = page_context(access, "library", document=document, action=action, library_url=library_url)
    return render(request, "library/confirm.html", context)


# --- one cited page ------------------------------------------------------------------------


@dataclass
class TextBlock:
    lines: list[list[tuple[str, bool]]]  # each line as (text, is a term of the question) pieces
    cited: bool
    anchor: str = ""


def _split_overlap(previous: list[str], current: list[str]) -> int:
    """How many leading lines of `current` repeat the tail of `previous` (chunk overlap)."""
    for size in range(min(len(previous), len(current)), 0, -1):
        if previous[-size:] == current[:size]:
            return size
    return 0


# PDFs set in the Symbol font store its glyphs in the private-use area (U+F000 + Symbol code);
# shown as they are they are boxes, so the page text shows the characters they draw.
SYMBOL_FONT_GLYPHS = str.maketrans(
    {
        0xF020: " ", 0xF02D: "−", 0xF057: "Ω", 0xF06D: "μ", 0xF071: "θ", 0xF07E: "∼", 0xF0A3: "≤",
        0xF0A5: "∞", 0xF0B0: "°", 0xF0B1: "±", 0xF0B3: "≥", 0xF0B4: "×", 0xF0B7: "•", 0xF0E0: "►",
    }
)  # fmt: skip


def _page_lines(document: Document, page: int) -> tuple[list[str], list[set[int]]]:
    """The page's text as lines, each with the ids of the chunks it belongs to.

    Chunks of a page overlap by a few lines; the overlap is shown once. A page without
    chunks (a document not ingested yet, or re-ingesting) is read from the PDF again.
    """
    lines: list[str] = []
    owners: list[set[int]] = []
    previous: list[str] = []
    for chunk_id, text in (
        Chunk.objects.filter(document=document, page=page).order_by("ordinal").values_list("id", "text")
    ):
        chunk_lines = text.split("\n")
        repeated = _split_overlap(previous, chunk_lines)
        for offset in range(repeated):
            owners[len(lines) - repeated + offset].add(chunk_id)
        for line in chunk_lines[repeated:]:
            lines.append(line)
            owners.append({chunk_id})
        previous = chunk_lines
    if lines or document.is_live:
        return [line.translate(SYMBOL_FONT_GLYPHS) for line in lines], owners
    try:
        with document.served_file.open("rb") as handle:
            reader = open_pdf(handle.read())
        text = normalise_text(extract_page_text(reader, page - 1))
    except (PdfProblem, OSError, IndexError):
        return [], []
    lines = [line.translate(SYMBOL_FONT_GLYPHS) for line in text.split("\n") if line.strip()]
    return lines, [set() for _ in lines]


def _cited_lines(owners: list[set[int]], chunk_ids: set[int]) -> set[int]:
    return {index for index, ids in enumerate(owners) if ids & chunk_ids}


_QUESTION_WORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it its of on or the this that to was what when "
    "where which who why with about between there their any all me tell give show value values".split()
)
_TERM = re.compile(r"[\w.+-]*\w", re.UNICODE)


def _terms_pattern(question: str) -> re.Pattern[str] | None:
    """The question's words worth marking on the page ("I2C", "address", "BME280"), as one regex."""
    words = {word for word in _TERM.findall(question[:300]) if word.lower() not in _QUESTION_WORDS}
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


_CITE_PARAM = re.compile(r"^\d{1,18}(,\d{1,18}){0,63}$")


def _source_page(request: HttpRequest, access: OrgAccess) -> HttpResponse:
    library_url = org_path(access.org, "library")
    source_name = request.GET.get("source_name", "")
    raw_page = request.GET.get("source_page", "1")
    # PostgreSQL text cannot hold NUL, so such a name matches nothing (and must not reach SQL: 500).
    documents = Document.objects.filter(org=access.org, source_name=source_name).prefetch_related("topics")
    document = None if "\x00" in source_name else documents.first()
    if document is None:
        reason = f"There is no document named “{source_name}” in the {access.org.name} library."
        return not_found_page(request, access, reason, library_url, "Browse the library")
    page_count = pdf_page_count(document)
    page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 7 else 0
    if not 1 <= page <= page_count:
        reason = f"{document.source_name} has no page “{raw_page}”; it has {page_count} pages."
        back = source_url(access.org, document.source_name, 1)
        return not_found_page(request, access, reason, back, f"Open page 1 of {document.source_name}")
    if request.GET.get("source_type", "text") != "text":
        reason = "Only text sources can be shown (source_type=text)."
        return not_found_page(request, access, reason, library_url, "Browse the library")

    raw_cite = request.GET.get("cite", "")
    chunk_ids = {int(part) for part in raw_cite.split(",")} if _CITE_PARAM.match(raw_cite) else set()
    lines, owners = _page_lines(document, page)
    question = request.GET.get("q", "")[:300]
    blocks = _blocks(lines, _cited_lines(owners, chunk_ids), _terms_pattern(question))
    keep = {key: request.GET[key] for key in ("from",) if _is_uuid(request.GET.get(key, ""))}
    if question:
        keep["q"] = question
    thread_url = org_path(access.org, "chat", keep["from"]) if "from" in keep else ""
    context = page_context(
        access,
        "library",
        document=document,
        page=page,
        page_count=page_count,
        blocks=blocks,
        cited_count=sum(1 for block in blocks if block.cited),
        topics=list(document.topics.all()),
        topic_anchor_url=library_url,
        prev_url=source_url(access.org, document.source_name, page - 1, **keep) if page > 1 else "",
        next_url=source_url(access.org, document.source_name, page + 1, **keep) if page < page_count else "",
        image_url=org_path(access.org, "library", "documents", str(document.pk), "pages", f"{page}.png"),
        pdf_url=org_path(access.org, "library", "documents", str(document.pk), "file.pdf") + f"#page={page}",
        jump_url=library_url,
        thread_url=thread_url,
        from_chat=keep.get("from", ""),
        question=question,
    )
    return render(request, "library/source.html", context)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# --- the original PDF and page images --------------------------------------------------------


@require_GET
@org_page
def document_pdf(request: HttpRequest, access: OrgAccess, document_id: int) -> FileResponse:
    """The uploaded PDF, inline, so `…/file.pdf#page=N` opens the browser's viewer at that page."""
    document = _document_or_none(access, document_id)
    if document is None or not document.served_file:
        raise Http404("No such document.")
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
    document = _document_or_none(access, document_id)
    if document is None or not document.served_file:
        raise Http404("No such document.")
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
