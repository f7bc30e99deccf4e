"""A PDF's pages as units in reading order: `parse_page` for one page, `parse_document` for all.

Running headers and footers (a unit repeated on most pages) are dropped document-wide.
"""

import logging
import re
from collections import Counter
from collections.abc import Iterator

import pypdf
import pypdfium2

from library.parsing.layout import (
    Box,
    Char,
    Edge,
    Line,
    PageLayout,
    Unit,
    build_lines,
    page_edges,
    reading_order,
    text_layer_chars,
    text_units,
    title_of,
)
from library.parsing.pdf_text import extract_page_text, normalise_text
from library.parsing.pdfium_lock import PDFIUM
from library.parsing.tables import page_tables, row_units

logger = logging.getLogger(__name__)


def parse_page(page: pypdfium2.PdfPage, number: int) -> PageLayout:
    with PDFIUM:
        width, height = page.get_size()
        chars = text_layer_chars(page)
        edges = page_edges(page, height)
    return layout_from_chars(chars, edges, width, height, number)


def layout_from_chars(chars: list[Char], edges: list[Edge], width: float, height: float, number: int) -> PageLayout:
    """A page's layout from its characters and ruling lines, wherever they came from: the
    text layer (`parse_page`) or OCR (`library.parsing.ocr.ocr_page_layout`)."""
    lines = build_lines(chars)
    tables = page_tables(chars, edges, lines, width, height)
    boxes = [table.box for table, _ in tables]
    # Table cells sit on both sides of any gutter: the column test reads the other lines only.
    lines = reading_order(lines, width, ignore=lambda line: _table_of(line, boxes) is not None)
    units: list[Unit] = []
    run: list[Line] = []
    placed: set[int] = set()
    for line in lines:  # the content stream's order; a table's rows go where its text starts
        inside = _table_of(line, boxes)
        if inside is None:
            run.append(line)
            continue
        if inside not in placed:
            units.extend(text_units(run))
            run = []
            table, caption = tables[inside]
            # A table without a "Table N" caption is named by a heading right above it.
            units.extend(row_units(table, caption or _heading_over(table.box, units, within=40)))
            placed.add(inside)
    units.extend(text_units(run))
    return PageLayout(number=number, width=width, height=height, units=_in_context(units), title=title_of(lines))


def _heading_over(box: Box, units: list[Unit], *, within: float = 10_000.0) -> str:
    """The nearest heading read before `box` that stands above it in its column, at most
    `within` points above."""
    for unit in reversed(units):
        if unit.kind != "heading" or len(unit.text) > 80:
            continue
        if unit.box.bottom <= box.top + 2 and unit.box.x0 < box.x1 and box.x0 < unit.box.x1:
            return unit.text if box.top - unit.box.bottom <= within else ""
    return ""


def _in_context(units: list[Unit]) -> list[Unit]:
    """A list item or rating says little alone ("Supply Voltage ICL7660: +10.5V"): it carries
    its section's heading ("Absolute Maximum Ratings · Supply Voltage ICL7660: +10.5V")."""
    out: list[Unit] = []
    for unit in units:
        heading = _heading_over(unit.box, out) if unit.kind == "item" else ""
        if heading:
            unit = Unit("item", f"{heading} · {unit.text}", unit.box)
        out.append(unit)
    return out


def _table_of(line: Line, boxes: list[Box]) -> int | None:
    middle_x = (line.box.x0 + line.box.x1) / 2
    middle_y = (line.box.top + line.box.bottom) / 2
    return next((i for i, box in enumerate(boxes) if box.contains_point(middle_x, middle_y, margin=1.0)), None)


def unit_boxes(layout: PageLayout) -> list[dict[str, object]]:
    """The page's indexed units (figure text aside) as they are indexed, each with its box
    in fractions of the page's width and height (top-down), for outlining on its image."""
    width, height = max(layout.width, 1.0), max(layout.height, 1.0)
    return [
        {
            "text": normalise_text(unit.text),
            "box": [
                round(unit.box.x0 / width, 4),
                round(unit.box.top / height, 4),
                round(unit.box.x1 / width, 4),
                round(unit.box.bottom / height, 4),
            ],
        }
        for unit in layout.units
        if unit.kind != "figure"
    ]


def page_layout(pdf: pypdfium2.PdfDocument, index: int) -> PageLayout:
    """Page `index` (0-based); its `.text` (units one a line, figure text left out) is indexed."""
    with PDFIUM:
        page = pdf[index]
    try:
        return parse_page(page, index + 1)
    finally:
        with PDFIUM:
            page.close()


# A layout holding less text than this is checked against pypdf's reading of the page.
_THIN_LAYOUT = 400


def indexed_text(pdf: pypdfium2.PdfDocument, reader: pypdf.PdfReader, index: int) -> tuple[str, PageLayout | None]:
    """What ingestion indexes for page `index` (0-based): its units one a line, normalised,
    and the layout they come from.

    pdfium reads some fonts as placeholders ("xxxxxx"), which leave a page with little more
    than its running header; when pypdf reads more than twice as much text on such a thin
    page, its flat text stands in for the page.
    """
    try:
        layout: PageLayout | None = page_layout(pdf, index)
    except pypdfium2.PdfiumError:
        logger.warning("page %s: pdfium cannot lay it out", index + 1, exc_info=True)
        layout = None
    text = normalise_text(layout.text) if layout is not None else ""
    if len(text) < _THIN_LAYOUT:
        fallback = normalise_text(extract_page_text(reader, index))
        if len(fallback) > 2 * len(text):
            text = fallback
    return text, layout


def parse_document(pdf: pypdfium2.PdfDocument) -> Iterator[PageLayout]:
    """Every page's layout; pages are yielded as soon as the boilerplate is known."""
    pages = [page_layout(pdf, index) for index in range(len(pdf))]
    yield from strip_boilerplate(pages)


_DIGITS = re.compile(r"\d+")


def _shape(unit: Unit) -> str:
    return _DIGITS.sub("#", unit.text.lower())


def strip_boilerplate(pages: list[PageLayout]) -> list[PageLayout]:
    """Drop units repeated on most pages (running headers, footers, page counters)."""
    if len(pages) < 4:
        return pages
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_shape(unit) for unit in page.units if unit.kind != "row"})
    threshold = max(3, int(len(pages) * 0.4))
    boilerplate = {shape for shape, count in counts.items() if count >= threshold and len(shape) < 200}
    return [
        PageLayout(
            number=page.number,
            width=page.width,
            height=page.height,
            units=[unit for unit in page.units if unit.kind == "row" or _shape(unit) not in boilerplate],
            title=page.title,
        )
        for page in pages
    ]
