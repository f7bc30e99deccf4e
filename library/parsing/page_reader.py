"""What ingestion reads of each page: the text layer where it is usable (`indexed_text`), OCR
(library.parsing.ocr) for a page without one, within a document's OCR budget; a page that
cannot be read is reported with the reason, and the others still count."""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pypdf
import pypdfium2
from pypdf.errors import LimitReachedError

from library.parsing.layout import CaptionSides, PageLayout, TableHead
from library.parsing.ocr import OcrError, OcrPageUnreadable, ocr_page, ocr_page_layout, text_layer_usable
from library.parsing.pages import PageContext, indexed_text
from library.parsing.pdf_text import normalise_text
from library.parsing.pdfium_lock import PDFIUM
from library.parsing.tables import captioned_below

logger = logging.getLogger(__name__)

OCR_OFF = "no text layer, and OCR is off (OCR=off)"


class OcrPageSkipped(OcrPageUnreadable):
    """A page without a usable text layer that OCR was not run on (OCR off, over the budget)."""


@dataclass(frozen=True)
class OcrOptions:
    """How ingestion reads pages without a usable text layer (settings OCR, OCR_MAX_PAGES, ...)."""

    enabled: bool = True
    max_pages: int = 50  # per document
    timeout_s: float = 60.0  # per page
    dpi: int = 300


@dataclass(frozen=True)
class PageText:
    """One page as ingestion indexes it."""

    text: str
    layout: PageLayout | None
    ocr: bool = False  # its text was read by OCR
    problem: str = ""  # why the page's text could not be read, when it could not
    ocr_seconds: float | None = None  # what OCR took on it, read or not; None: OCR did not run


class PageReader:
    """A document's pages in turn: a page whose text layer is usable as `indexed_text` reads
    it, any other by OCR while the document's OCR budget lasts. A page OCR cannot read keeps
    what its text layer has (often nothing) and says why."""

    def __init__(self, pdf: pypdfium2.PdfDocument, reader: pypdf.PdfReader, options: OcrOptions) -> None:
        self.pdf = pdf
        self.reader = reader
        self.options = options
        self.ocr_tried = 0
        self._usable: dict[int, bool] = {}  # page index → its text layer is usable
        self._too_large: dict[int, str] = {}  # page index → why it is not read ("": it is)
        self._read_after: dict[int, TableHead | None] = {}  # page index → the table before it
        self._captions: dict[int, CaptionSides] = {}  # page index → its tables' caption sides
        self._read_by_ocr: set[int] = set()

    def ocr_plan(self) -> list[int]:
        """The pages (0-based) `read` will give to OCR: those without a usable text layer, within
        the OCR budget; none when OCR is off. The check is the cheap one `read` makes anyway
        (its answers are kept), so a document's time left can count OCR pages apart from the start."""
        if not self.options.enabled:
            return []
        needing = [
            index
            for index in range(len(self.reader.pages))
            if not self._content_too_large(index) and not self._text_layer_usable(index)
        ]
        return needing[: self.options.max_pages]

    def read(self, index: int, context: PageContext = PageContext()) -> PageText:
        too_large = self._content_too_large(index)
        if too_large:
            logger.warning("page %s: not read: %s", index + 1, too_large)
            return PageText("", None, problem=too_large)
        if self._text_layer_usable(index):
            return PageText(*indexed_text(self.pdf, self.reader, index, context))
        started = time.monotonic()
        try:
            return self._ocr(index, context)
        except OcrError as error:
            reason = error.reason if isinstance(error, OcrPageUnreadable) else str(error)
            logger.warning("page %s: no usable text layer, not read by OCR: %s", index + 1, reason)
            text, layout = indexed_text(self.pdf, self.reader, index, context)
            seconds = time.monotonic() - started if self._ocr_ran(error) else None
            return PageText(text, layout, problem=reason, ocr_seconds=seconds)

    def read_in_order(self) -> Iterator[tuple[int, PageText]]:
        """Every page (0-based index) in turn, each read with the last table of the page before,
        which a table at its top may run on from. Tables are taken as captioned above them, as
        most datasheets caption; `read_again_if_captioned_below` mends that afterwards."""
        before: TableHead | None = None
        for index in range(len(self.reader.pages)):
            page = self.read(index, PageContext(table_before=before))
            self._read_after[index] = before
            if page.layout is not None:
                self._captions[index] = page.layout.captions
            if page.ocr:
                self._read_by_ocr.add(index)
            before = page.layout.last_table if page.layout is not None else None
            yield index, page

    def read_again_if_captioned_below(self) -> dict[int, PageText]:
        """When the document writes its tables' captions below them (`tables.captioned_below`),
        the pages `read_in_order` read where that gives a caption to another table, read again
        from their text layer that way; {} otherwise. OCR pages keep their reading."""
        if not captioned_below(self._captions.values()):
            return {}
        return {
            index: PageText(
                *indexed_text(
                    self.pdf, self.reader, index, PageContext(captions_below=True, table_before=self._read_after[index])
                )
            )
            for index, captions in sorted(self._captions.items())
            if captions.side_matters and index not in self._read_by_ocr
        }

    @staticmethod
    def _ocr_ran(error: OcrError) -> bool:
        """Whether OCR spent time on the page before it failed (not off, not over the budget)."""
        return not isinstance(error, OcrPageSkipped)

    def _content_too_large(self, index: int) -> str:
        """Why the page must not be handed to pdfium, which inflates a content stream whole:
        a 2 MB PDF can inflate to gigabytes. pypdf decodes it first and stops at its limit
        (75 MB by default), holding no more; "" for a page within it (0.4 ms a page here)."""
        if index not in self._too_large:
            self._too_large[index] = _inflates_past_limit(self.reader, index)
        return self._too_large[index]

    def _text_layer_usable(self, index: int) -> bool:
        if index not in self._usable:
            self._usable[index] = self._check_text_layer(index)
        return self._usable[index]

    def _check_text_layer(self, index: int) -> bool:
        with PDFIUM:
            page = self.pdf[index]
            try:
                return text_layer_usable(page)
            except pypdfium2.PdfiumError:
                return True  # `indexed_text` reads it as it can
            finally:
                page.close()

    def _ocr(self, index: int, context: PageContext) -> PageText:
        number = index + 1
        if not self.options.enabled:
            raise OcrPageSkipped(number, OCR_OFF)
        if self.ocr_tried >= self.options.max_pages:
            limit = self.options.max_pages
            raise OcrPageSkipped(number, f"no text layer, and OCR_MAX_PAGES ({limit}) pages had OCR already")
        self.ocr_tried += 1
        with PDFIUM:
            page = self.pdf[index]
        try:
            read = ocr_page(page, number, dpi=self.options.dpi, timeout_s=self.options.timeout_s)
        finally:
            with PDFIUM:
                page.close()
        layout = ocr_page_layout(read, context)
        text = normalise_text(layout.text)
        if not text.strip():
            raise OcrPageUnreadable(number, "no text layer, and OCR found no text on it")
        logger.info("page %s: read by OCR in %.1f s", number, read.seconds)
        return PageText(text, layout, ocr=True, ocr_seconds=read.seconds)


def _inflates_past_limit(reader: pypdf.PdfReader, index: int) -> str:
    try:
        contents = reader.pages[index].get_contents()
        if contents is not None:
            contents.get_data()
    except LimitReachedError as error:
        return f"its content inflates past the decompression limit ({error}); the page was not read"
    except Exception:  # anything else pypdf dislikes, pdfium reads as it can
        return ""
    return ""
