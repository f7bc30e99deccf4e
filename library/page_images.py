"""Images of a document's pages (PNG, rendered by pdfium, encoded by Pillow), made once and cached.

Renders live under MEDIA_ROOT/page-images/{org}/{document}-{sha}/, so a new version of a
document never shows an old version's pages, and deleting a document deletes its renders.
"""

import io
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pypdfium2
from django.conf import settings
from PIL import Image

from library.models import Document
from library.parsing.pdfium_lock import PDFIUM, pdfium_document

_render_lock = threading.Lock()  # one render of a page, not one per request
RENDER_WIDTH_PX = 1100


def _renders_of_org(org_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "page-images" / str(org_id)


def page_image_folder(document: Document) -> Path:
    """Where renders of this version live; the sha in the name retires renders of old versions."""
    return _renders_of_org(document.org_id) / f"{document.pk}-{document.served_sha256[:16]}"


def page_image_path(document: Document, page: int) -> Path:
    return page_image_folder(document) / f"{page}-{RENDER_WIDTH_PX}.png"


def page_image_file(document: Document, page: int) -> Path | None:
    """The PNG of one page of the served version, rendered on first use; None past the last page.

    Raises whatever pdfium raises on a broken or missing file.
    """
    path = page_image_path(document, page)
    if path.exists():
        return path
    with _render_lock:
        if path.exists():
            return path
        with document.served_file.open("rb") as handle:
            data = handle.read()
        with pdfium_document(data) as pdf, PDFIUM:
            if not 1 <= page <= len(pdf):
                return None
            image = _render(pdf[page - 1])
        encoded = io.BytesIO()
        image.save(encoded, format="PNG")  # outside PDFIUM: an ingesting thread may use pdfium meanwhile
        png = encoded.getvalue()
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(descriptor, "wb") as out:
            out.write(png)
        os.replace(temporary, path)
    return path


def _render(pdf_page: pypdfium2.PdfPage) -> Image.Image:
    """The page as an image of its own (the caller holds PDFIUM; the bitmap is freed here)."""
    width, _ = pdf_page.get_size()
    bitmap = pdf_page.render(scale=min(3.0, RENDER_WIDTH_PX / max(width, 1.0)), rev_byteorder=True)
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


def pdf_page_count(document: Document) -> int:
    """Pages of the served version: as ingested, else counted in its PDF (0 for a broken file)."""
    if document.served_pages_total:
        return document.served_pages_total
    try:
        with document.served_file.open("rb") as handle:
            data = handle.read()
        with pdfium_document(data) as pdf, PDFIUM:
            return len(pdf)
    except Exception:  # a broken file: its status says why; it has no pages to show
        return 0


def page_images_delete(*, org_id: int, document_id: int) -> None:
    """Delete the cached renders of every version of a document."""
    renders = _renders_of_org(org_id)
    for folder in renders.glob(f"{document_id}-*") if renders.exists() else []:
        shutil.rmtree(folder, ignore_errors=True)
